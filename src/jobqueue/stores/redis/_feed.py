"""`ChangeFeed`: one Redis pub/sub channel of job changes, as this process's iterators see it.

`RedisStore` keeps two: every change (``changes``) and the few a worker acts on
(``worker_changes``). Each feed subscribes while it has followers, reconnects with backoff when its
connection drops, and merges the channel with this process's own changes, which it is
handed directly so that they arrive even before the subscription is in place.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobqueue.stores.codec import parse_change
from jobqueue.stores.subscription import SharedSubscription

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis.asyncio as aioredis
    from redis.asyncio.client import PubSub

    from jobqueue.models import Change

#: Seconds of silence on a subscription before it is checked with a PING.
IDLE_SECONDS = 10.0
#: Changes remembered per feed to drop the second copy of this process's own changes.
_DELIVERED_MEMORY = 10_000


class ChangeFeed(SharedSubscription):
    """The changes published on *channel*, deduplicated, for any number of followers."""

    lost_errors = (RedisError,)

    def __init__(self, channel: str) -> None:
        super().__init__(f"jobqueue-redis-{channel}")
        self.channel = channel
        self._client: aioredis.Redis | None = None
        self._delivered: OrderedDict[str, int] = OrderedDict()

    def connect(self, client: aioredis.Redis) -> None:
        """Subscribe through *client* from now on."""
        self._client = client
        self.open()

    def deliver(self, change: Change) -> None:
        """Hand *change* to the followers unless a version as new was already delivered.

        Each change of this process comes twice (directly and over pub/sub): the repeat
        is dropped here.
        """
        if not self.is_followed or self._delivered.get(change.job_id, 0) >= change.version:
            return
        self._delivered[change.job_id] = change.version
        self._delivered.move_to_end(change.job_id)
        if len(self._delivered) > _DELIVERED_MEMORY:
            self._delivered.popitem(last=False)
        self.publish(change)

    async def _listen(self, subscribed: Callable[[], None]) -> None:
        """Subscribe to the channel and deliver what comes; raise when it drops."""
        assert self._client is not None
        async with self._client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            subscribed()
            await self._relay(pubsub)

    async def _relay(self, pubsub: PubSub) -> None:
        """Deliver every message; return never, raise when the connection is gone."""
        is_pinged = False
        while True:
            message = await pubsub.get_message(timeout=IDLE_SECONDS)
            if message is None:
                # Silence: ask for a PONG, and give up on a connection that stays silent.
                if is_pinged:
                    raise RedisTimeoutError(f"No reply to PING on {self.channel}")
                await pubsub.ping()
                is_pinged = True
                continue
            is_pinged = False
            if message["type"] == "message" and (change := parse_change(message["data"])):
                self.deliver(change)
