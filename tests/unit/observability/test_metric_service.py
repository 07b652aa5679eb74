"""The metric service on an injected clock: alarm evaluation (OK → ALARM → OK from the data,
M out of N, TreatMissingData, persisted across a new service on the same database), rollups
and retention, period alignment, the cap on series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shoal.observability.metrics import MetricService

T0 = 1_800_000_000.0  # a minute boundary


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def alarm(**kw: Any) -> dict[str, Any]:
    doc = {"AlarmName": "a", "Region": "us-east-1", "Namespace": "N", "MetricName": "m",
           "Dimensions": [], "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1,
           "Threshold": 10.0, "ComparisonOperator": "GreaterThanThreshold",
           "StateValue": "INSUFFICIENT_DATA", "StateReason": "Unchecked"}  # fmt: skip
    doc.update(kw)
    return doc


@pytest.fixture
def service(tmp_path: Path) -> Any:
    clock = Clock()
    svc = MetricService(path=tmp_path / "metrics.db", clock=clock)
    svc.clock_ = clock
    yield svc
    svc.store.close()


def put(svc: MetricService, value: float, at: float) -> None:
    svc.put(("us-east-1", "N", "m", ()), at, "None", 60, [(value, 1.0)])


def test_alarm_then_ok_with_the_data(service: Any) -> None:
    service.alarms.put("us-east-1", alarm())
    service.alarms.evaluate_all()
    assert service.alarms.alarms[("us-east-1", "a")]["StateValue"] == "INSUFFICIENT_DATA"
    put(service, 50, T0 + 5)
    service.clock_.now = T0 + 10
    service.alarms.evaluate_all()
    doc = service.alarms.alarms[("us-east-1", "a")]
    assert doc["StateValue"] == "ALARM" and doc["StateUpdatedTimestamp"] == T0 + 10
    assert doc["StateReason"].startswith("Threshold Crossed: 1 datapoint [50.0 (")
    service.clock_.now = T0 + 70  # the next minute: a low value
    put(service, 3, T0 + 65)
    service.alarms.evaluate_all()
    doc = service.alarms.alarms[("us-east-1", "a")]
    assert doc["StateValue"] == "OK" and doc["StateUpdatedTimestamp"] == T0 + 70
    history = service.store.history("us-east-1", "a")
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    # A new service on the same database has the alarm in its last state.
    again = MetricService(path=service.path, clock=service.clock_)
    assert again.alarms.alarms[("us-east-1", "a")]["StateValue"] == "OK"
    again.store.close()


def test_m_out_of_n_and_missing_data(service: Any) -> None:
    service.alarms.put("us-east-1", alarm(EvaluationPeriods=3, DatapointsToAlarm=2))
    service.clock_.now = T0 + 150
    put(service, 20, T0 + 10)  # bad, minute 0
    put(service, 1, T0 + 70)  # good, minute 1; minute 2 (now) has none
    service.alarms.evaluate_all()
    assert service.alarms.alarms[("us-east-1", "a")]["StateValue"] == "OK"
    service.alarms.put("us-east-1", alarm(EvaluationPeriods=3, DatapointsToAlarm=2,
                                          TreatMissingData="breaching"))  # fmt: skip
    service.alarms.evaluate_all()
    doc = service.alarms.alarms[("us-east-1", "a")]
    assert doc["StateValue"] == "ALARM"
    assert doc["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints [")
    assert doc["StateReason"].endswith(
        "were greater than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM "
        "transition).")  # fmt: skip
    service.clock_.now = T0 + 1000  # nothing in the window
    service.alarms.put("us-east-1", alarm(TreatMissingData="ignore", StateValue="ALARM"))
    service.alarms.evaluate_all()
    assert service.alarms.alarms[("us-east-1", "a")]["StateValue"] == "ALARM"
    service.alarms.put("us-east-1", alarm(TreatMissingData="missing", StateValue="ALARM"))
    service.alarms.evaluate_all()
    assert service.alarms.alarms[("us-east-1", "a")]["StateValue"] == "INSUFFICIENT_DATA"


def test_rollups_and_retention(service: Any) -> None:
    for minute in range(10):
        put(service, minute, T0 + 60 * minute)
    service.flush()
    sid = service.store.series_id(("us-east-1", "N", "m", ()))
    five = service.store.points(sid, 300, 0, 2**40, None)
    assert [(ts, agg.count, agg.sum) for ts, _, agg in five] == [
        (int(T0), 5, 10), (int(T0) + 300, 5, 35)]  # fmt: skip
    hour = service.store.points(sid, 3600, 0, 2**40, None)
    assert sum(agg.count for _, _, agg in hour) == 10
    # 16 days later the minutes are gone, the 5-minute and hourly buckets kept.
    assert service.store.expire(T0 + 16 * 86400) == 10
    assert service.store.points(sid, 60, 0, 2**40, None) == []
    assert len(service.store.points(sid, 300, 0, 2**40, None)) == 2


def test_periods_align_on_the_start_rounded_to_the_minute(service: Any) -> None:
    for minute in range(120):
        put(service, 1, T0 + 60 * minute)
    key = ("us-east-1", "N", "m", ())
    service.clock_.now = T0 + 7200
    off = service.buckets(key, T0 + 1830, T0 + 7200, 3600, None)  # 30.5 minutes past
    assert [(ts - T0, agg.count) for (ts, _), agg in sorted(off.items())] == [
        (1800, 60), (5400, 30)]  # fmt: skip
    aligned = service.buckets(key, T0, T0 + 7200, 3600, None)
    assert [(ts - T0, agg.count) for (ts, _), agg in sorted(aligned.items())] == [
        (0, 60), (3600, 60)]  # fmt: skip


def test_series_are_capped(tmp_path: Path) -> None:
    svc = MetricService(path=tmp_path / "capped.db", clock=Clock())
    svc.store.max_series = 2
    for name in ("a", "b", "c"):
        svc.put(("us-east-1", "N", name, ()), T0, "None", 60, [(1.0, 1.0)])
    svc.flush()
    assert [k[2] for k, _ in svc.store.series("us-east-1")] == ["a", "b"]
    assert svc.store.room_for([("us-east-1", "N", "a", ())])
    assert not svc.store.room_for([("us-east-1", "N", "d", ())])
    svc.store.close()
