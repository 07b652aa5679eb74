"""One bucket's statistics: exact counts, sums and extremes; percentiles within 1 %."""

from __future__ import annotations

import random

import pytest

from shoal.observability.stats import Agg, is_percentile


def test_exact_statistics_and_percentiles_within_one_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(5000)]
    agg = Agg()
    for v in values:
        agg.add(v)
    ordered = sorted(values)
    assert agg.count == 5000 and agg.sum == pytest.approx(sum(values))
    assert (agg.min, agg.max) == (ordered[0], ordered[-1])
    for p in (1, 50, 90, 99, 99.9):
        rank = max(1, -(-p * len(values) // 100))
        assert agg.percentile(p) == pytest.approx(ordered[int(rank) - 1], rel=0.01)
    assert agg.percentile(100) == ordered[-1]


def test_equal_values_answer_exactly_and_merging_is_adding() -> None:
    a, b = Agg(), Agg()
    a.add(42, 3)
    b.add(0, 1)
    assert a.percentile(50) == 42
    a.merge(b)
    assert (a.count, a.sum, a.min, a.max) == (4, 126, 0, 42)
    assert a.percentile(25) == 0 and a.percentile(26) == 42


def test_statistic_sets_and_negative_values_have_no_percentiles() -> None:
    a = Agg()
    a.add_set(4, 10, 1, 4)
    assert a.statistic("Average") == 2.5 and a.statistic("p50") is None
    b = Agg()
    b.add(-1)
    assert b.statistic("p50") is None and b.statistic("Minimum") == -1
    c = Agg()
    c.add(1)
    c.merge(a)
    assert c.percentile(50) is None


def test_round_trip_through_storage() -> None:
    a = Agg()
    for v in (1.0, 2.0, 3.0):
        a.add(v)
    b = Agg.load(a.count, a.sum, a.min, a.max, a.dump_hist())
    assert b.percentile(50) == a.percentile(50) and b.count == 3


NAMES = [("p50", True), ("p99.9", True), ("p100", True), ("p0.0", True), ("p101", False),
         ("p", False), ("pxx", False), ("Sum", False), ("p99.999", False)]  # fmt: skip


@pytest.mark.parametrize("name, ok", NAMES)
def test_percentile_names(name: str, ok: bool) -> None:
    assert is_percentile(name) is ok
