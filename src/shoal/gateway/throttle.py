"""Route and stage throttling for HTTP APIs, as API Gateway enforces it: a token bucket.

A stage's ``DefaultRouteSettings`` give every route's ``ThrottlingRateLimit`` (requests per
second, the bucket's refill) and ``ThrottlingBurstLimit`` (the bucket's size); its
``RouteSettings``, keyed by route key, override them member by member for one route. Each
(API, stage, route) has its own bucket: a request takes a token or is answered 429
``{"message":"Too Many Requests"}``. A rate of 0 (or a burst of 0) refuses every request, as on
API Gateway; a route with no rate configured is not throttled here (API Gateway's account-level
quota is not modelled). A burst left unset is the rate (at least 1).

Buckets live in memory only, on the event loop (no lock: one thread touches them). A bucket is
remade when its limits change, so an ``UpdateStage`` applies at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    last: float  # monotonic seconds of the last refill

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def limits(settings: Mapping[str, Any], route_key: str) -> tuple[float, float] | None:
    """(rate, burst) for ``route_key`` from a stage's members; None when it has no rate."""
    default = settings.get("DefaultRouteSettings") or {}
    own = (settings.get("RouteSettings") or {}).get(route_key) or {}
    rate = own.get("ThrottlingRateLimit", default.get("ThrottlingRateLimit"))
    burst = own.get("ThrottlingBurstLimit", default.get("ThrottlingBurstLimit"))
    if rate is None:
        return None
    rate = max(0.0, float(rate))
    burst = max(0.0, float(burst)) if burst is not None else max(1.0, math.ceil(rate))
    return rate, burst


class Throttles:
    """Every throttled route's bucket, keyed by (API id, stage name, route key)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def admit(self, api_id: str, stage: str, route_key: str, settings: Mapping[str, Any]) -> bool:
        """Whether the request may pass: True when the route is not throttled or a token was
        left in its bucket."""
        found = limits(settings, route_key)
        if found is None:
            return True
        rate, burst = found
        key = (api_id, stage, route_key)
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            bucket = self._buckets[key] = TokenBucket(rate, burst, burst, now)
        return bucket.take(now)
