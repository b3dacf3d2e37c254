"""`JobsRouter`: the job API's FastAPI router, with what its endpoints share and its lifespan.

The endpoints themselves live by resource (`jobs`, `events`, `admin`) and are added to
it by `create_router`. Errors, metrics, the queue's lifecycle and the per-task OpenAPI
schemas all travel with the router, so it behaves the same included in any app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path

from jobqueue.api.auth import authenticator, bearer_credential, identifier
from jobqueue.api.handling import route_class
from jobqueue.api.metrics import ChangeCounter, Metrics
from jobqueue.api.read_tokens import ReadTokens
from jobqueue.api.responses import job_response
from jobqueue.api.streams import Streams
from jobqueue.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

    from jobqueue.api.auth import Principal
    from jobqueue.api.settings import ApiSettings
    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

#: How often a server reaps lost leases and purges expired jobs.
MAINTENANCE_SECONDS = 5.0

JobId = Annotated[str, Path(alias="jobId", description="The job's id.", max_length=200)]


class JobsRouter(APIRouter):
    """The job API under ``settings.prefix``, bound to one queue.

    Its lifespan opens the queue (tolerating an unreachable store: requests answer 503
    until it is back) and closes it; `close_streams` ends open event streams and long
    polls, for a prompt shutdown.
    """

    def __init__(
        self, queue: JobQueue, settings: ApiSettings, metrics: Metrics | None = None
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.streams = Streams(queue)
        self.tokens = ReadTokens.of(settings, queue.clock)
        """Mints and checks read tokens; None without API keys."""
        self.auth = authenticator(settings, self.tokens)
        """The dependency that resolves a request's `Principal`."""
        self._identify = identifier(settings, self.tokens)
        self.guarded = (401, 403) if settings.has_auth else ()
        """The statuses authentication adds to every endpoint's answers."""
        self.rate_limits = settings.rate_limits
        """What a submitter may submit, parsed once."""
        super().__init__(
            prefix=settings.prefix,
            tags=["jobs"],
            route_class=route_class(self.metrics),
            lifespan=self._lifespan,
        )

    def principal_of(self, request: Request) -> Principal:
        """The request's `Principal`, as `auth` resolves it (for endpoints `solved_by_hand`)."""
        authorization = request.headers.get("authorization")
        return self._identify(bearer_credential(authorization), request.query_params.get("token"))

    def max_wait(self, seconds: float) -> float:
        """*seconds* of a long poll or ``Prefer: wait``, capped by the settings."""
        return min(seconds, self.settings.max_wait_seconds)

    def job_response(
        self,
        job: Job,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Response:
        """The job representation (with *extra* fields) and its caching headers, as of now."""
        return job_response(
            job,
            self.queue.clock.now(),
            self.settings.poll_after_seconds,
            status_code=status_code,
            headers=headers,
            extra=extra,
        )

    def close_streams(self) -> None:
        """End every open event stream and long poll now."""
        self.streams.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        try:
            await self.queue.open()
        except StoreError as exc:
            logger.warning(
                "The store is unavailable at start-up (%s); answering 503 meanwhile", exc
            )
        counter = ChangeCounter(self.queue, self.metrics)
        counter.start()
        # Servers reap lost leases and purge expired jobs too (DESIGN.md), slowly:
        # workers do it every second, and stores make concurrent passes safe.
        stopping = asyncio.Event()
        maintenance = asyncio.create_task(
            self.queue.maintain(stopping, interval=MAINTENANCE_SECONDS)
        )
        try:
            yield
        finally:
            self.streams.close()
            stopping.set()
            await maintenance
            await counter.stop()
            await self.queue.close()
