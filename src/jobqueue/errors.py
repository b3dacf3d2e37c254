"""The exception hierarchy.

::

    JobQueueError
    ├── ConfigError
    │   └── MissingDependency (also ImportError)
    ├── StoreError
    │   └── StoreUnavailable
    ├── JobNotFound
    ├── InvalidTransition
    ├── IdempotencyConflict
    ├── InvalidRequest
    │   ├── UnknownTask
    │   └── PayloadInvalid
    ├── QueueFull
    ├── RateLimited
    ├── LeaseLost
    └── ClientError

`http_status` and `exit_code` let the HTTP layer and the CLI translate any of them
generically. The exceptions a task raises on purpose (`Retry`, `Fail`) live in
`jobqueue.context`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from jobqueue.models import Job, JSONValue
    from jobqueue.ratelimit import RateLimit


class JobQueueError(Exception):
    """Something went wrong in jobqueue."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        """The human-readable message (the API's ``error`` field)."""
        return str(self)


class ConfigError(JobQueueError):
    """The configuration is invalid."""

    exit_code = 2


class MissingDependency(ConfigError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed. Install it with `pip install 'jobqueue[{extra}]'`."
        )


class StoreError(JobQueueError):
    """The store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; try again shortly."""

    http_status = 503
    retry_after_seconds: ClassVar[int] = 2


class JobNotFound(JobQueueError):
    """Job not found."""

    http_status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__("Job not found")
        self.job_id = job_id


class InvalidTransition(JobQueueError):
    """The job's status does not allow this operation."""

    http_status = 409

    def __init__(self, job: Job, message: str | None = None) -> None:
        super().__init__(message or f"Job is {job.status.value}")
        self.job = job


class IdempotencyConflict(JobQueueError):
    """The idempotency key was already used with a different request."""

    http_status = 422


class InvalidRequest(JobQueueError, ValueError):
    """The request is invalid.

    `errors` holds one ``{"field", "message"}`` per reason when the request was checked
    field by field (the API's ``errors`` member).
    """

    http_status = 400
    exit_code = 2

    def __init__(self, message: str | None = None, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def of_fields(cls, errors: Iterable[tuple[str, str]], what: str | None = None) -> Self:
        """The error for each ``(field, message)`` of *errors*, its message prefixed by *what*.

        The message lists them as ``field: message; ...``.
        """
        listed = [{"field": field, "message": message} for field, message in errors]
        summary = "; ".join(f"{error['field']}: {error['message']}" for error in listed)
        return cls(f"{what}: {summary}" if what else summary, listed)


def field_errors(details: Iterable[Mapping[str, Any]], skip: int = 0) -> Iterator[tuple[str, str]]:
    """``(field, message)`` pairs from pydantic's error details (FastAPI's too).

    A field is its location joined by dots, less its first *skip* parts; an empty one is
    ``payload``.
    """
    for detail in details:
        location = detail.get("loc", ())[skip:]
        yield ".".join(str(part) for part in location) or "payload", str(detail.get("msg", ""))


class UnknownTask(InvalidRequest):
    """No task is registered under that name."""

    def __init__(self, name: str | None) -> None:
        if name is None:
            super().__init__("No task given and no default task is registered")
        else:
            super().__init__(f"Unknown task: {name!r}")
        self.name = name


class PayloadInvalid(InvalidRequest):
    """The payload does not match the task's payload model."""

    http_status = 422


class QueueFull(JobQueueError):
    """Queue full"""

    http_status = 503
    retry_after_seconds: ClassVar[int] = 5


class RateLimited(JobQueueError):
    """Too many requests; try again later."""

    http_status = 429

    def __init__(
        self,
        retry_after_seconds: int = 1,
        message: str | None = None,
        *,
        limit: RateLimit | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit
        """The limit that was exceeded, when the server's own."""


class LeaseLost(JobQueueError):
    """The worker no longer holds this job's lease; another attempt owns it."""

    http_status = 409

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Lease lost for job {job_id}")
        self.job_id = job_id


class ClientError(JobQueueError):
    """The server could not be reached, or answered with an error no other class describes.

    ``status`` is the HTTP status (None when there was no answer) and ``body`` the
    answer's JSON object (empty when there was none).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Mapping[str, JSONValue] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Mapping[str, JSONValue] = body or {}
