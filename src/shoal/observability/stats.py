"""One time bucket of one metric: SampleCount, Sum, Minimum, Maximum, and a histogram for pNN.

CloudWatch answers percentiles of the raw values it was sent. Keeping every value of every
minute is unbounded (a busy function's Duration is thousands of values a minute), so each bucket
keeps a log-scale histogram instead, as DDSketch does: a value ``v > 0`` counts in the bin
``ceil(log(v) / log(GAMMA))``, zero in its own bin. With ``GAMMA = 1.02`` a percentile is within
1 % of the true value (the bin's middle; the lowest and highest bins answer the bucket's exact
Minimum and Maximum, so equal values and the extremes are exact). Bins merge by adding counts,
so minutes roll up into 5-minute and hourly buckets, and several buckets into one period, with
the same error.
A bucket is a few hundred bins at most whatever its sample count.

Percentiles are available only when every sample of the bucket was a raw value (``Value`` or
``Values``/``Counts``): a ``StatisticValues`` set, or a negative value, makes them unavailable
for that bucket, as CloudWatch says of both.
"""

from __future__ import annotations

import math
import re
from array import array

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
# Bins of positive values are offset so that every key is a positive int (0 is the zero bin).
_OFFSET = 20000
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{0,2})?|100)")


def _bin(value: float) -> int:
    if value == 0:
        return 0
    return math.ceil(math.log(value) / _LOG_GAMMA) + _OFFSET


def _middle(key: int) -> float:
    if key == 0:
        return 0.0
    upper = GAMMA ** (key - _OFFSET)
    return 2 * upper / (1 + GAMMA)


class Agg:
    """Mutable statistics of one bucket; ``hist`` is None once percentiles are unavailable."""

    __slots__ = ("count", "sum", "min", "max", "_hist", "_raw")

    def __init__(self) -> None:
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._hist: dict[int, float] | None = {}
        # The stored form, decoded on first use: a read of Sum or Maximum never decodes it.
        self._raw: bytes | None = None

    @property
    def hist(self) -> dict[int, float] | None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            n = len(raw) // 12
            keys, counts = array("i"), array("d")
            keys.frombytes(raw[: 4 * n])
            counts.frombytes(raw[4 * n :])
            self._hist = dict(zip(keys, counts, strict=True))
        return self._hist

    @hist.setter
    def hist(self, value: dict[int, float] | None) -> None:
        self._raw = None
        self._hist = value

    def add(self, value: float, times: float = 1.0) -> None:
        self.count += times
        self.sum += value * times
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        hist = self.hist
        if hist is not None:
            if value < 0:
                self.hist = None
            else:
                key = _bin(value)
                hist[key] = hist.get(key, 0.0) + times

    def add_set(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A ``StatisticValues`` set: no raw values, so no percentiles for the bucket."""
        self.count += count
        self.sum += total
        self.min = min(self.min, minimum)
        self.max = max(self.max, maximum)
        self.hist = None

    def merge(self, other: Agg) -> None:
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if self.hist is None or other.hist is None:
            self.hist = None
        else:
            for k, n in other.hist.items():
                self.hist[k] = self.hist.get(k, 0.0) + n

    def percentile(self, p: float) -> float | None:
        """The nearest-rank pNN of the bucket's values (None when unavailable)."""
        if self.hist is None or self.count <= 0:
            return None
        if p >= 100:
            return self.max
        rank = max(1.0, math.ceil(p / 100 * self.count - 1e-9))
        seen = 0.0
        keys = sorted(self.hist)
        for key in keys:
            seen += self.hist[key]
            if seen >= rank:
                # The lowest and highest bins hold the exact Minimum and Maximum: answer those.
                if key == keys[-1]:
                    return self.max
                if key == keys[0]:
                    return self.min
                return min(self.max, max(self.min, _middle(key)))
        return self.max

    def statistic(self, name: str) -> float | None:
        """``SampleCount``, ``Sum``, ``Average``, ``Minimum``, ``Maximum`` or ``pNN``."""
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.sum / self.count if self.count else None
        if name == "Minimum":
            return self.min
        if name == "Maximum":
            return self.max
        if name.startswith("p"):
            return self.percentile(float(name[1:]))
        return None

    def dump_hist(self) -> bytes | None:
        """The histogram as stored: its bins (int32) then their counts (float64), or None."""
        hist = self.hist
        if hist is None:
            return None
        return array("i", hist.keys()).tobytes() + array("d", hist.values()).tobytes()

    @classmethod
    def load(cls, count: float, total: float, minimum: float, maximum: float,
             hist: bytes | None) -> Agg:  # fmt: skip
        agg = cls()
        agg.count, agg.sum, agg.min, agg.max = count, total, minimum, maximum
        if hist is None:
            agg._hist = None
        else:
            agg._raw = hist
        return agg


def is_percentile(name: str) -> bool:
    """``p0``…``p100`` with at most two decimals, CloudWatch's pattern (:data:`_PERCENTILE`)."""
    return _PERCENTILE.fullmatch(name) is not None
