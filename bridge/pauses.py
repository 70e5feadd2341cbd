"""Where "connector X is paused until T" lives: the store (embedded) or Redis (scale).

After a 429 every worker must hold off that connector until ``Retry-After`` has passed, so the pause is
shared state. The embedded default keeps it in the SQL store (see :meth:`bridge.store.Store.pause`);
at scale, where a GET per API call should not touch PostgreSQL, it lives in Redis next to the queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from bridge import drivers
from bridge.errors import Unavailable
from bridge.retry import PauseBoard
from bridge.store import Store

# Raise the pause only if the new one ends later; expire it when it ends.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
end
return 1
"""


class RedisPauses:
    """A :class:`bridge.retry.PauseBoard` in Redis: one key per connector, expiring with the pause."""

    def __init__(self, url: str, *, prefix: str = "socialdesk:pause:") -> None:
        drivers.require(url, "queue_url")
        import redis  # the scale extra's: an embedded install has none

        self.redis = redis.Redis.from_url(url, socket_timeout=5)
        self.prefix = prefix
        self._raise = self.redis.register_script(_RAISE)

    def pause(self, connector: str, until: float, reason: str) -> None:
        with _reachable():
            self._raise(keys=[self.prefix + connector], args=[repr(until), math.ceil(until * 1000)])

    def paused_until(self, connector: str) -> float:
        with _reachable():
            value = self.redis.get(self.prefix + connector)
        return float(value) if value else 0.0


@contextmanager
def _reachable() -> Iterator[None]:
    """Redis down or restarting is an outage like the helpdesk's: the work waits and is tried again (a
    raw ``redis.ConnectionError`` would read as a bug and dead-letter the event)."""
    import redis

    try:
        yield
    except redis.RedisError as e:
        raise Unavailable(f"the pause board in Redis is unreachable ({e})", platform="queue") from e


def pause_board(queue_url: str, store: Store) -> PauseBoard:
    """Redis when the queue is Redis, the store otherwise."""
    if queue_url.startswith(("redis://", "rediss://")):
        return RedisPauses(queue_url)
    return store
