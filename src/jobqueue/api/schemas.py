"""The bodies only the HTTP service has: the submit options it validates, health and errors.

The job and stats representations are defined in `jobqueue.wire`, shared with the
client; these models feed ``/openapi.json`` beside them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from jobqueue.api.read_tokens import DEFAULT_TAG_TOKEN_SECONDS, MAX_TOKEN_SECONDS
from jobqueue.bounds import (
    DELAY_SECONDS,
    MAX_ATTEMPTS,
    MAX_CONCURRENCY_KEY_LENGTH,
    MAX_TAGS,
    MAX_TASK_NAME_LENGTH,
    MAX_WEBHOOK_URL_LENGTH,
    PRIORITY,
    TAG_PATTERN,
    TIMEOUT_SECONDS,
    TTL_SECONDS,
)
from jobqueue.wire import JobOut

# The wire models spell fields as the JSON does, so they are camelCase on purpose.


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


JSON_INTEGER = BeforeValidator(_integral)
"""Put after a strict int's constraints to accept integers as JSON Schema does: ``3.0`` too."""


class HealthOut(BaseModel):
    """The service and its store answer."""

    status: Literal["ok"]


class FieldError(BaseModel):
    """One reason a payload failed its task's schema."""

    field: str
    message: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``error`` is the message to show."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    error: str
    errors: list[FieldError] | None = Field(
        None, description="With 422: each payload field that failed, and why."
    )
    job: JobOut | None = Field(None, description="With 409: the job as it is.")


WebhookEvent = Literal["started", "output", "completed", "failed", "cancelled"]


class WebhookFields(BaseModel):
    """Where to ``POST`` the job's events, and which."""

    model_config = ConfigDict(strict=True, extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_WEBHOOK_URL_LENGTH,
        description="An `http(s)` URL of a public host.",
    )
    events: list[WebhookEvent] | None = Field(
        None, min_length=1, description="Default: `completed`, `failed` and `cancelled`."
    )


class SubmitFields(BaseModel):
    """The submit fields other than ``payload``; validated strictly (``1.0`` is no integer,
    and a field not named here is refused).

    The bounds are `jobqueue.bounds`'s, which `JobQueue.build` checks too.
    """

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    task: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_TASK_NAME_LENGTH,
        description="Default: the default task.",
    )
    priority: Annotated[int, PRIORITY.interval, JSON_INTEGER] | None = Field(
        None, description="Higher runs first among ready jobs; default 0."
    )
    delaySeconds: Annotated[float, DELAY_SECONDS.interval] | None = Field(
        None, description="Do not start before now + delay."
    )
    timeoutSeconds: Annotated[float, TIMEOUT_SECONDS.interval] | None = Field(
        None, description="An attempt running longer is stopped and counts as failed."
    )
    maxAttempts: Annotated[int, MAX_ATTEMPTS.interval, JSON_INTEGER] | None = Field(
        None, description="Attempts allowed."
    )
    ttlSeconds: Annotated[float, TTL_SECONDS.interval] | None = Field(
        None, description="How long a finished job is kept."
    )
    concurrencyKey: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_CONCURRENCY_KEY_LENGTH,
        pattern=r"^[^\x00]*$",  # no NUL (see `jobqueue.models.NUL`), as the schema says
        description="Jobs with the same key share the task's `key_concurrency` limit.",
    )
    tags: list[Annotated[str, StringConstraints(pattern=TAG_PATTERN)]] | None = Field(
        None,
        max_length=MAX_TAGS,
        description="Labels to list the job by (`GET /api/jobs?tag=`).",
    )
    webhook: WebhookFields | None = Field(
        None, description="Signed `POST`s of the job's events (see Webhooks)."
    )


class DeliveryOut(BaseModel):
    """One webhook message of a job, and how its delivery goes."""

    id: str = Field(description="The delivery's id (for `redeliver`).")
    webhookId: str = Field(description="The message's `webhook-id`, the same on every retry.")
    type: str = Field(description="`job.<event>`.")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lastStatusCode: int | None = Field(description="The receiver's last answer, if any.")
    lastError: str | None = Field(description="Why the last attempt failed.")
    nextAttemptAt: str | None = Field(description="When it is tried next, while pending.")
    deliveredAt: str | None


class DeliveriesOut(BaseModel):
    """A job's webhook messages, oldest first."""

    deliveries: list[DeliveryOut]


class TagTokenRequest(BaseModel):
    """The body of ``POST {prefix}/tokens``: which tags the token reads, and for how long."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    tags: list[Annotated[str, StringConstraints(pattern=TAG_PATTERN)]] = Field(
        min_length=1,
        max_length=MAX_TAGS,
        description="The token reads the caller's jobs that carry any of these tags.",
    )
    ttlSeconds: Annotated[float, Interval(gt=0, le=MAX_TOKEN_SECONDS)] = Field(
        DEFAULT_TAG_TOKEN_SECONDS, description="How long the token is accepted; default 1 h."
    )
