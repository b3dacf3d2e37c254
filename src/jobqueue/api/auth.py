"""Who is calling, which jobs they may see, and whether they may act as admin.

Without configured keys everyone is an anonymous admin: holding a job id is what grants
access to it. With keys, each request needs ``Authorization: Bearer <key>``; a job
belongs to the key that submitted it (stored as `Job.owner`, a digest, never the key
itself), and another key is told it does not exist. A read token (`read_tokens`), as the
bearer or as ``?token=``, reads what its scope covers of its owner's jobs and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from jobqueue.api.problems import Forbidden, Unauthorized
from jobqueue.errors import JobNotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from jobqueue.api.read_tokens import ReadTokens, TokenScope
    from jobqueue.api.settings import ApiSettings
    from jobqueue.models import Job


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the owner its jobs are stored under, whether it is an admin, and for
    the holder of a read token, what the token opens."""

    owner: str | None
    is_admin: bool
    scope: TokenScope | None = None

    def can_see(self, job: Job) -> bool:
        """Whether this caller may read *job*."""
        if self.scope is not None:
            return job.owner == self.owner and self.scope.covers(job)
        return self.is_admin or job.owner == self.owner

    def check_visible(self, job: Job | None, job_id: str) -> Job:
        """*job* when this caller may see it; `JobNotFound` otherwise (absent or not theirs)."""
        if job is None or not self.can_see(job):
            raise JobNotFound(job_id)
        return job

    def require_admin(self, action: str) -> None:
        """Raise `Forbidden` unless this caller is an admin."""
        if not self.is_admin:
            raise Forbidden(f"Only admin API keys may {action}")

    def require_key(self, action: str) -> None:
        """Raise `Forbidden` if this caller holds a read token rather than an API key."""
        if self.scope is not None:
            raise Forbidden(f"A read token may not {action}; it only reads")


ANONYMOUS = Principal(owner=None, is_admin=True)


def key_owner(key: str) -> str:
    """The owner name jobs submitted with *key* are stored under (not reversible)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def identifier(
    settings: ApiSettings, tokens: ReadTokens | None
) -> Callable[[str | None, str | None], Principal]:
    """Who sends a request's bearer credential and ``?token=``: its `Principal`, or
    `Unauthorized` (401) when it has none.

    *tokens* checks read tokens; it is required when *settings* configure API keys.
    """
    if not settings.has_auth:
        return lambda bearer, token: ANONYMOUS
    if tokens is None:
        raise ValueError("API keys are configured: read tokens need their ReadTokens")
    principals = {key_owner(key): Principal(key_owner(key), False) for key in settings.api_keys}
    principals.update(
        {key_owner(key): Principal(key_owner(key), True) for key in settings.admin_api_keys}
    )

    def holder_of(token: str) -> Principal:
        owner, scope = tokens.verify(token)
        return Principal(owner, False, scope)

    def identify(bearer: str | None, token: str | None) -> Principal:
        if bearer is not None:
            principal = principals.get(key_owner(bearer))
            if principal is not None:
                return principal
            if not _looks_like_token(bearer):
                raise Unauthorized("Unknown API key")
            return holder_of(bearer)
        if token is not None:
            # Only tokens: an API key in a URL would end up in access logs.
            return holder_of(token)
        raise Unauthorized()

    return identify


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, else None (as
    FastAPI's `HTTPBearer` reads it)."""
    scheme, _, credential = (authorization or "").partition(" ")
    return credential if scheme.lower() == "bearer" and credential else None


def authenticator(
    settings: ApiSettings, tokens: ReadTokens | None
) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency resolving the request's `Principal` (see `identifier`); it
    also documents the credentials in OpenAPI."""
    identify = identifier(settings, tokens)
    if not settings.has_auth:

        async def anonymous() -> Principal:  # async: FastAPI runs plain functions in threads
            return ANONYMOUS

        return anonymous

    bearer = HTTPBearer(
        auto_error=False, description="An API key of this service, or a read token."
    )
    query = APIKeyQuery(
        name="token",
        auto_error=False,
        description="A read token, where a header cannot be set (`EventSource`, `<img src>`).",
    )

    # Defaults rather than Annotated: annotations are resolved in module scope, and
    # `bearer` and `query` are local.
    async def authenticate(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        token: str | None = Depends(query),
    ) -> Principal:
        return identify(None if credentials is None else credentials.credentials, token)

    return authenticate


def _looks_like_token(credential: str) -> bool:
    """Whether *credential* has a token's form (three dot-separated parts) at all."""
    return credential.count(".") == 2
