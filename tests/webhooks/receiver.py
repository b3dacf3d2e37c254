"""A webhook receiver on 127.0.0.1 for the delivery tests: it answers each request with
the next status of a script (the last one repeats) and records what it was sent. A
status of `HOLD` keeps that request waiting until the receiver stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HOLD = 0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(
            Received(request.url.path, dict(request.headers), await request.body())
        )
        self.arrived.set()
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == HOLD:
            await self.released.wait()
            status = 503
        headers = {"Location": f"{self.url}elsewhere"} if 300 <= status < 400 else None
        return Response(status_code=status, headers=headers)

    async def wait_for(self, count: int) -> list[Received]:
        """The first *count* requests, once they have arrived."""
        async with asyncio.timeout(20):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received[:count]


@contextlib.asynccontextmanager
async def receiving(*statuses: int, port: int = 0) -> AsyncIterator[Receiver]:
    """A receiver answering *statuses* in turn, served by uvicorn on *port* (0: a free one)."""
    receiver = Receiver(list(statuses or (200,)))
    app = Starlette(routes=[Route("/{path:path}", receiver.endpoint, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/"
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.should_exit = True
        await task
