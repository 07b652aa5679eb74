"""Metric alarms: their state (OK / ALARM / INSUFFICIENT_DATA) evaluated periodically, as
CloudWatch evaluates them.

An alarm looks at its metric's last ``EvaluationPeriods`` periods, the current one included
(so data just put is seen at the next evaluation); it goes to ALARM when at least
``DatapointsToAlarm`` (default: all of them) of those datapoints breach the threshold, to OK
when fewer do, and to INSUFFICIENT_DATA when none has data — with ``TreatMissingData``
deciding what a period without data is: ``missing`` (left out; no data at all is
INSUFFICIENT_DATA), ``notBreaching`` / ``breaching`` (counted as good / bad), ``ignore`` (left
out; no data at all keeps the current state). A change of state is persisted with its
``StateReason``, ``StateReasonData`` and ``StateUpdatedTimestamp`` and added to the alarm's
history before it is published in memory.

The evaluation runs every ``SHOAL_ALARM_INTERVAL_S`` seconds (default 60; CloudWatch's is the
period, at most a minute) on the metric service's clock: tests inject both. Actions (SNS, Auto
Scaling) are kept but not carried out: Shoal has neither service.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.observability.stats import Agg

if TYPE_CHECKING:
    from shoal.observability.metrics import MetricService

log = logging.getLogger("shoal.alarms")

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
COMPARISONS = tuple(_WORDS)


def breaches(value: float, comparison: str, threshold: float) -> bool:
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "LessThanThreshold":
        return value < threshold
    return value <= threshold


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def evaluate(alarm: Mapping[str, Any], metrics: MetricService, now: float
             ) -> tuple[str, str, str] | None:  # fmt: skip
    """The alarm's state now: (state, reason, reason data), or None to keep its state."""
    period = int(alarm["Period"])
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm") or n)
    end = int(now) - int(now) % period + period
    start = end - n * period
    key = (alarm["Region"], alarm["Namespace"], alarm["MetricName"],
           tuple((d["Name"], d["Value"]) for d in sorted(
               alarm.get("Dimensions") or [], key=lambda d: d["Name"])))  # fmt: skip
    merged: dict[int, Agg] = {}
    for (ts, _), found in metrics.buckets(key, start, end, period, alarm.get("Unit")).items():
        if ts in merged:
            merged[ts].merge(found)
        else:
            merged[ts] = found
    stat = str(alarm.get("Statistic") or alarm.get("ExtendedStatistic"))
    threshold = float(alarm["Threshold"])
    comparison = alarm["ComparisonOperator"]
    treat = alarm.get("TreatMissingData") or "missing"
    points: list[tuple[int, float]] = []  # newest first
    evaluated: list[dict[str, Any]] = []
    bad = missing = 0
    for k in range(n):
        ts = end - (k + 1) * period
        agg = merged.get(ts)
        value = agg.statistic(stat) if agg is not None else None
        if agg is None or value is None:
            missing += 1
            evaluated.append({"timestamp": _iso(ts)})
            if treat == "breaching":
                bad += 1
            continue
        points.append((ts, value))
        evaluated.append({"timestamp": _iso(ts), "sampleCount": agg.count, "value": value})
        if breaches(value, comparison, threshold):
            bad += 1
    # CloudWatch's StateReasonData: startDate only when a datapoint was found.
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(now)}
    if points:
        data["startDate"] = _iso(points[-1][0])
    if alarm.get("Unit"):
        data["unit"] = alarm["Unit"]
    data.update({"statistic": stat, "period": period,
                 "recentDatapoints": [v for _, v in points], "threshold": threshold,
                 "evaluatedDatapoints": evaluated})  # fmt: skip
    return _decide(alarm, points, bad, missing, n, m, treat, data)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _decide(alarm: Mapping[str, Any], points: list[tuple[int, float]], bad: int, missing: int,
            n: int, m: int, treat: str, data: dict[str, Any]
            ) -> tuple[str, str, str] | None:  # fmt: skip
    """The state and CloudWatch's wording of why, from what :func:`evaluate` found."""
    threshold = float(alarm["Threshold"])
    comparison = alarm["ComparisonOperator"]
    if not points:
        if treat == "ignore":
            return None
        if treat == "missing":
            verb = "was" if missing == 1 else "were"
            return INSUFFICIENT, f"Insufficient Data: {_plural(missing, 'datapoint')} {verb} " \
                "unknown.", json.dumps(data)  # fmt: skip
        state = ALARM if bad >= m else OK
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        verb = "was" if missing == 1 else "were"
        reason = (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{_plural(missing, 'missing datapoint')} {verb} treated as [{kind}]."
        )
        return state, reason, json.dumps(data)
    state = ALARM if bad >= m else OK
    word = _WORDS[comparison] if state == ALARM else f"not {_WORDS[comparison]}"
    shown = ", ".join(f"{v} ({_stamp(ts)})" for ts, v in points)
    if n == 1:
        reason = f"Threshold Crossed: 1 datapoint [{shown}] was {word} the threshold ({threshold})."
        return state, reason, json.dumps(data)
    count = bad if state == ALARM else n - bad
    verb = "was" if count == 1 else "were"
    transition = "OK -> ALARM" if state == ALARM else "ALARM -> OK"
    reason = (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] {verb} {word} "
        f"the threshold ({threshold}) (minimum {_plural(m, 'datapoint')} for {transition} "
        "transition)."
    )
    return state, reason, json.dumps(data)


class Alarms:
    """The region's alarms in memory (written through to the metric store); the evaluator."""

    def __init__(self, metrics: MetricService, interval_s: float | None = None) -> None:
        self.metrics = metrics
        env = os.environ.get("SHOAL_ALARM_INTERVAL_S")
        self.interval_s = interval_s if interval_s is not None else float(env or 60.0)
        self._lock = threading.Lock()
        # (region, name) -> the alarm's document (MetricAlarm's members, times as epochs)
        self.alarms: dict[tuple[str, str], dict[str, Any]] = {
            (region, doc["AlarmName"]): doc for region, doc in metrics.store.alarms()
        }
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._forever())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.evaluate_all)
            except Exception:
                log.exception("alarm evaluation failed")

    def put(self, region: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self.metrics.store.put_alarm(region, doc["AlarmName"], doc)
            self.alarms[(region, doc["AlarmName"])] = doc

    def delete(self, region: str, names: list[str]) -> None:
        with self._lock:
            for name in names:
                self.metrics.store.put_alarm(region, name, None)
                self.alarms.pop((region, name), None)

    def history(self, region: str, name: str, kind: str, summary: str, data: Any) -> None:
        now = self.metrics.clock()
        self.metrics.store.add_history(region, name, now, {
            "AlarmName": name, "AlarmType": "MetricAlarm", "Timestamp": now,
            "HistoryItemType": kind, "HistorySummary": summary, "HistoryData": json.dumps(data),
        })  # fmt: skip

    def set_state(self, region: str, name: str, state: str, reason: str, data: str | None
                  ) -> None:  # fmt: skip
        with self._lock:
            doc = self.alarms.get((region, name))
            if doc is None:
                return
            old = doc["StateValue"]
            now = self.metrics.clock()
            new = {**doc, "StateValue": state, "StateReason": reason, "StateUpdatedTimestamp": now}
            if data is not None:
                new["StateReasonData"] = data
            if state != old:
                new["StateTransitionedTimestamp"] = now
            self.metrics.store.put_alarm(region, name, new)
            self.alarms[(region, name)] = new
        if state != old:
            change = {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": doc["StateReason"]},
                "newState": {"stateValue": state, "stateReason": reason,
                             **({"stateReasonData": json.loads(data)} if data else {})},
            }
            self.history(region, name, "StateUpdate", f"Alarm updated from {old} to {state}",
                         change)  # fmt: skip

    def evaluate_one(self, region: str, name: str) -> None:
        doc = self.alarms.get((region, name))
        if doc is None:
            return
        found = evaluate(doc, self.metrics, self.metrics.clock())
        # Only a change of state is an update (StateUpdatedTimestamp), as on CloudWatch.
        if found is not None and found[0] != doc["StateValue"]:
            self.set_state(region, name, *found)

    def evaluate_all(self) -> None:
        for region, name in list(self.alarms):
            try:
                self.evaluate_one(region, name)
            except Exception:
                log.exception("alarm %s in %s", name, region)
