"""A small HTTP load generator for W4 when ``wrk`` is not installed: asyncio and httpx.

    python -m bench.load URL [--method POST --body JSON] [--seconds 5] [--connections 32]

Prints JSON: requests per second and how many answers were not 2xx. Run it in its own
process, so it does not share an event loop (or a core's worth of GIL) with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx


async def _load(url: str, method: str, body: str | None, seconds: float, connections: int) -> Any:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"} if body is not None else {}
    counts = {"ok": 0, "bad": 0}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def connection() -> None:
            while time.perf_counter() < deadline:
                response = await client.request(method, url, content=body, headers=headers)
                counts["ok" if response.is_success else "bad"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    total = counts["ok"] + counts["bad"]
    return {"requests_per_s": total / elapsed, "not_2xx": counts["bad"]}


def main() -> None:
    """Parse the arguments, load the URL, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(_load(args.url, args.method, args.body, args.seconds, args.connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
