"""API keys: who is calling, which jobs they may see, and whether they may act as admin.

Without configured keys everyone is an anonymous admin: holding a job id is what grants
access to it. With keys, each request needs ``Authorization: Bearer <key>``; a job
belongs to the key that submitted it (stored as `Job.owner`, a digest, never the key
itself), and another key is told it does not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobqueue.api.problems import Forbidden, Unauthorized
from jobqueue.errors import JobNotFound

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from jobqueue.api.settings import ApiSettings
    from jobqueue.models import Job


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the owner its jobs are stored under, and whether it is an admin."""

    owner: str | None
    is_admin: bool

    def can_see(self, job: Job) -> bool:
        """Whether this caller may read *job*."""
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


ANONYMOUS = Principal(owner=None, is_admin=True)


def key_owner(key: str) -> str:
    """The owner name jobs submitted with *key* are stored under (not reversible)."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def authenticator(settings: ApiSettings) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency resolving the request's `Principal` (401 when it has none)."""
    if not settings.has_auth:

        async def anonymous() -> Principal:  # async: FastAPI runs plain functions in threads
            return ANONYMOUS

        return anonymous

    principals = {key_owner(key): Principal(key_owner(key), False) for key in settings.api_keys}
    principals.update(
        {key_owner(key): Principal(key_owner(key), True) for key in settings.admin_api_keys}
    )
    bearer = HTTPBearer(auto_error=False, description="An API key of this service.")

    # A default rather than Annotated: annotations are resolved in module scope, and
    # `bearer` is local.
    async def authenticate(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Principal:
        if credentials is None:
            raise Unauthorized()
        principal = principals.get(key_owner(credentials.credentials))
        if principal is None:
            raise Unauthorized("Unknown API key")
        return principal

    return authenticate
