"""A live server (real uvicorn, real worker, SQLite) for the session, and clients of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from jobqueue import AsyncClient, Client
from tests.client.live import Proxy, running_server


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture
def client(server_url: str) -> Iterator[Client]:
    with Client(server_url) as client:
        yield client


@pytest.fixture
async def aclient(server_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server_url) as client:
        yield client


@pytest.fixture
def proxy(server_url: str) -> Iterator[Proxy]:
    proxy = Proxy(server_url)
    yield proxy
    proxy.close()
