"""`ApiSettings`: how the HTTP service behaves, from code or from ``JOBQUEUE_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from jobqueue.errors import ConfigError
from jobqueue.ratelimit import RateLimit

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_PREFIX = "JOBQUEUE_"
#: The shortest `ApiSettings.secret` accepted: shorter ones can be guessed offline.
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Settings of the HTTP service; every field can be set by ``JOBQUEUE_<FIELD>``.

    Lists are comma-separated in the environment (``JOBQUEUE_API_KEYS=k1,k2``).
    """

    prefix: str = "/api/jobs"
    """Where the job endpoints live."""
    max_body_bytes: int = 1024 * 1024
    """The largest submit body accepted (413 above it, refused before it is read whole)."""
    max_json_depth: int = 64
    """The deepest nesting of arrays and objects accepted in a submit body (400 beyond)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (``*`` for any); none by default."""
    api_keys: tuple[str, ...] = ()
    """Bearer keys that may submit and follow their own jobs; none means no authentication."""
    admin_api_keys: tuple[str, ...] = ()
    """Bearer keys that may also list all jobs, read stats and act on any job."""
    secret: str | None = None
    """What read tokens are signed with; required with API keys, and the same on every
    server of a deployment, so that each accepts the tokens the others mint."""
    max_wait_seconds: float = 60.0
    """The longest a long poll or ``Prefer: wait`` holds a request (the contract allows 60)."""
    keepalive_seconds: float = 15.0
    """The longest an event stream stays silent; a comment line is sent after it."""
    sse_retry_ms: int = 2000
    """The reconnection delay an event stream tells the browser (its ``retry:`` field)."""
    poll_after_seconds: int = 1
    """The ``Retry-After`` suggested for jobs that are not finished."""
    rate_limit: str | None = None
    """Submits allowed per API key (per client address without keys), counted in the
    store for the whole deployment: ``50/second``, ``1000/minute``, ``10/second;1000/hour``
    (429 beyond); none by default."""

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ConfigError("prefix must start with '/' and not end with '/'")
        if self.max_body_bytes < 1 or self.max_json_depth < 2:
            raise ConfigError("max_body_bytes must be positive and max_json_depth at least 2")
        if not 0 <= self.max_wait_seconds <= 60:
            raise ConfigError("max_wait_seconds must be between 0 and 60")
        if self.keepalive_seconds <= 0 or self.sse_retry_ms < 0:
            raise ConfigError("keepalive_seconds must be positive and sse_retry_ms not negative")
        if self.poll_after_seconds < 1:
            raise ConfigError("poll_after_seconds must be at least 1")
        if self.has_auth and len(self.secret or "") < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"API keys are configured, so {ENV_PREFIX}SECRET must be set to at least "
                f"{MIN_SECRET_LENGTH} random characters (it signs the read tokens); for "
                "example: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.rate_limit:
            RateLimit.parse(self.rate_limit)  # now, so that a malformed limit stops the start

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """`rate_limit` parsed; empty when there is none."""
        return RateLimit.parse(self.rate_limit) if self.rate_limit else ()

    @property
    def has_auth(self) -> bool:
        """Whether API keys are configured (and so required)."""
        return bool(self.api_keys or self.admin_api_keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ApiSettings:
        """Settings from ``JOBQUEUE_*`` variables, then *overrides*; `ConfigError` if malformed."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = environ.get(ENV_PREFIX + spec.name.upper())
            if raw is None:
                continue
            kind = str(spec.type)
            try:
                if kind.startswith("tuple"):
                    values[spec.name] = tuple(p.strip() for p in raw.split(",") if p.strip())
                elif kind == "int":
                    values[spec.name] = int(raw)
                elif kind == "float":
                    values[spec.name] = float(raw)
                else:
                    values[spec.name] = raw
            except ValueError:
                raise ConfigError(
                    f"{ENV_PREFIX}{spec.name.upper()}={raw!r} is not a {kind}"
                ) from None
        values.update(overrides)
        return cls(**values)
