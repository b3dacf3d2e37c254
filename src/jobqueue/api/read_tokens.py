"""Read tokens: signed, expiring permissions to read one job, or a key's jobs with a tag.

A browser should never hold an API key. A token is a JWT (HS256) signed with a key
derived from ``JOBQUEUE_SECRET``: nothing is stored, so every server that shares the
secret accepts it, and checking one costs no store round trip. Its claims name the
owner whose jobs it reads and its scope (one job id, or a set of tags); the audience
claim keeps a JWT made for anything else with the same secret from passing as one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from jobqueue.api.problems import Unauthorized
from jobqueue.wire import ReadToken

if TYPE_CHECKING:
    from collections.abc import Collection

    from jobqueue.api.settings import ApiSettings
    from jobqueue.clock import Clock
    from jobqueue.models import Job

#: The longest any read token lives.
MAX_TOKEN_SECONDS = 7 * 24 * 3600.0
#: How long a tag token lives when the request does not say.
DEFAULT_TAG_TOKEN_SECONDS = 3600.0
_AUDIENCE = "jobqueue:read"
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class TokenScope:
    """What a read token opens: one job, or the jobs carrying any of some tags."""

    job_id: str | None = None
    tags: frozenset[str] = frozenset()

    def covers(self, job: Job) -> bool:
        """Whether *job* is in this scope (its owner is checked by the caller)."""
        if self.job_id is not None:
            return job.job_id == self.job_id
        return not self.tags.isdisjoint(job.tags)


class ReadTokens:
    """Mints and checks the read tokens of one deployment (all servers share *secret*)."""

    @classmethod
    def of(cls, settings: ApiSettings, clock: Clock) -> ReadTokens | None:
        """The tokens *settings* call for: None without API keys (ids grant access)."""
        if not settings.has_auth or settings.secret is None:
            return None
        return cls(settings.secret, clock)

    def __init__(self, secret: str, clock: Clock) -> None:
        # A derived key: the secret may serve other purposes, and HS256 wants 32 bytes.
        self._key = hashlib.sha256(b"jobqueue read tokens\0" + secret.encode()).digest()
        self._clock = clock

    def for_job(self, job: Job) -> ReadToken:
        """A token reading *job*: valid until the job would expire, at most 7 days."""
        limit = self._clock.now() + timedelta(seconds=MAX_TOKEN_SECONDS)
        expires = min(job.expires_at, limit) if job.expires_at else limit
        return self._mint({"job": job.job_id}, job.owner, expires)

    def for_tags(self, owner: str | None, tags: Collection[str], seconds: float) -> ReadToken:
        """A token reading *owner*'s jobs that carry any of *tags*, for *seconds*."""
        expires = self._clock.now() + timedelta(seconds=min(seconds, MAX_TOKEN_SECONDS))
        return self._mint({"tags": sorted(tags)}, owner, expires)

    def verify(self, token: str) -> tuple[str | None, TokenScope]:
        """The owner and scope *token* grants; `Unauthorized` if altered, foreign or expired."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                # Expiry is checked against the queue's clock below, not the wall clock.
                options={"require": ["exp", "aud"], "verify_exp": False},
            )
        except jwt.InvalidTokenError:
            raise Unauthorized("Invalid token") from None
        if claims["exp"] <= self._clock.now().timestamp():
            raise Unauthorized("The token has expired")
        owner = claims.get("sub")
        if "job" in claims:
            return owner, TokenScope(job_id=str(claims["job"]))
        return owner, TokenScope(tags=frozenset(map(str, claims.get("tags", ()))))

    def _mint(self, scope: dict[str, Any], owner: str | None, expires: datetime) -> ReadToken:
        # Whole seconds: that is what the claim holds, and what the answer should say.
        expires = datetime.fromtimestamp(int(expires.timestamp()), UTC)
        claims = {**scope, "aud": _AUDIENCE, "exp": int(expires.timestamp())}
        if owner is not None:
            claims["sub"] = owner
        return ReadToken(jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires)
