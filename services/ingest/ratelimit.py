"""Per-write-key token buckets. Pure: the caller passes the (monotonic) time in."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens (events) per second
    burst: float  # bucket size
    tokens: float
    updated: float

    def take(self, n: float, *, now: float) -> float:
        """Take ``n`` tokens; return 0 when allowed, else the seconds after which they would be."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        # A request bigger than the bucket can never fit; let it through when the bucket is full.
        need = min(n, self.burst)
        if self.tokens >= need:
            self.tokens -= n
            return 0.0
        return (need - self.tokens) / self.rate


@dataclass
class RateLimiter:
    rate: float
    burst: float
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def check(self, source: str, events: int, *, now: float) -> int:
        """Retry-After seconds for this source (0 = go ahead)."""
        bucket = self.buckets.get(source)
        if bucket is None:
            bucket = self.buckets[source] = TokenBucket(self.rate, self.burst, self.burst, now)
        wait = bucket.take(max(events, 1), now=now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
