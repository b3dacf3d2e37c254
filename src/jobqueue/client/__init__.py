"""Python clients of a jobqueue server's HTTP API: `Client` (blocking) and `AsyncClient`."""

from __future__ import annotations

from jobqueue.client.aio import AsyncClient
from jobqueue.client.sync import Client
from jobqueue.errors import ClientError

__all__ = ["AsyncClient", "Client", "ClientError"]
