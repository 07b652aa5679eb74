"""CloudWatch's metric alarms: PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState,
DescribeAlarmHistory, DescribeAlarmsForMetric (state evaluated by
:mod:`shoal.observability.alarms`).

Metric-math alarms (``Metrics``) and composite alarms are refused with
``InvalidParameterValue``; every alarm is a single-metric one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from shoal.api.cloudwatch import (
    HIGH_RES_PERIODS,
    STATISTICS,
    combination,
    epoch,
    handles,
    invalid,
    metrics_of,
    missing,
)
from shoal.api.dispatch import Call
from shoal.errors import AwsError
from shoal.observability.alarms import COMPARISONS, INSUFFICIENT, Alarms
from shoal.observability.stats import is_percentile

TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
MAX_ALARMS = 5000
_KEPT = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile",
)  # fmt: skip


def alarms_of(call: Call) -> Alarms:
    return metrics_of(call).alarms


def _validate(p: Mapping[str, Any]) -> None:
    if p.get("Metrics") or p.get("ThresholdMetricId"):
        raise invalid("Shoal does not evaluate metric math alarms (Metrics): give MetricName, "
                      "Namespace, Statistic and Period.")  # fmt: skip
    for name in ("MetricName", "Namespace", "Period"):
        if p.get(name) is None:
            raise missing(f"The parameter {name} is required.")
    if p.get("Threshold") is None:
        raise missing("The parameter Threshold is required.")
    if bool(p.get("Statistic")) == bool(p.get("ExtendedStatistic")):
        raise combination("Exactly one element of the Statistic and ExtendedStatistic fields "
                          "must be specified.")  # fmt: skip
    if p.get("Statistic") and p["Statistic"] not in STATISTICS:
        raise invalid(f"The value {p['Statistic']} for parameter Statistic is invalid.")
    if p.get("ExtendedStatistic") and not is_percentile(p["ExtendedStatistic"]):
        raise invalid(f"The value {p['ExtendedStatistic']} for parameter ExtendedStatistic is "
                      "invalid.")  # fmt: skip
    period = p["Period"]
    if period not in HIGH_RES_PERIODS[1:] and (period <= 0 or period % 60):
        raise invalid("The parameter Period must be 10, 30 or a multiple of 60.")
    if period * p["EvaluationPeriods"] > 7 * 86400:
        raise invalid("The evaluation period (Period * EvaluationPeriods) must not exceed "
                      "7 days.")  # fmt: skip
    if p.get("DatapointsToAlarm", 1) > p["EvaluationPeriods"]:
        raise invalid("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if p["ComparisonOperator"] not in COMPARISONS:
        raise invalid(f"The value {p['ComparisonOperator']} for parameter ComparisonOperator "
                      "is not supported for a static threshold alarm.")  # fmt: skip
    if p.get("TreatMissingData", "missing") not in TREAT_MISSING:
        raise invalid(f"The value {p['TreatMissingData']} for parameter TreatMissingData is "
                      "invalid.")  # fmt: skip


@handles("PutMetricAlarm")
def put_metric_alarm(call: Call) -> None:
    p = call.params
    _validate(p)
    alarms = alarms_of(call)
    name = p["AlarmName"]
    old = alarms.alarms.get((call.region, name))
    if old is None and sum(1 for r, _ in alarms.alarms if r == call.region) >= MAX_ALARMS:
        raise AwsError("LimitExceeded", f"The maximum number of alarms ({MAX_ALARMS}) has been "
                       "reached.", 400)  # fmt: skip
    now = alarms.metrics.clock()
    account = call.shoal.settings.account_id
    doc: dict[str, Any] = {k: p[k] for k in _KEPT if p.get(k) is not None}
    doc.setdefault("ActionsEnabled", True)
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        doc.setdefault(key, [])
    doc.setdefault("Dimensions", [])
    doc.update({
        "Region": call.region,
        "AlarmArn": f"arn:aws:cloudwatch:{call.region}:{account}:alarm:{name}",
        "AlarmConfigurationUpdatedTimestamp": now,
        # An update keeps the state; a new alarm starts without data, as on CloudWatch.
        "StateValue": old["StateValue"] if old else INSUFFICIENT,
        "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
        "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
        "StateTransitionedTimestamp": old.get("StateTransitionedTimestamp", now) if old else now,
    })  # fmt: skip
    alarms.put(call.region, doc)
    summary = f"Alarm \"{name}\" {'updated' if old else 'created'}"
    alarms.history(call.region, name, "ConfigurationUpdate", summary,
                   {"version": "1.0", "type": "Update" if old else "Create"})  # fmt: skip
    alarms.evaluate_one(call.region, name)  # CloudWatch evaluates a new alarm at once


def _public(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "Region"}


def _page(items: list[Any], p: Mapping[str, Any], size: int) -> tuple[list[Any], str | None]:
    token = p.get("NextToken")
    try:
        offset = int(base64.b64decode(token).decode()) if token else 0
    except ValueError:
        raise AwsError("InvalidNextToken", "The service couldn't process the NextToken.",
                       400) from None  # fmt: skip
    page = items[offset : offset + size]
    more = offset + size < len(items)
    return page, base64.b64encode(str(offset + size).encode()).decode() if more else None


@handles("DescribeAlarms")
def describe_alarms(call: Call) -> dict[str, Any]:
    p = call.params
    names = p.get("AlarmNames")
    prefix = p.get("AlarmNamePrefix")
    if names and prefix:
        raise combination("The parameters AlarmNames and AlarmNamePrefix are mutually "
                          "exclusive.")  # fmt: skip
    types = p.get("AlarmTypes") or ["MetricAlarm"]
    found = []
    for (region, name), doc in sorted(list(alarms_of(call).alarms.items())):
        if region != call.region or "MetricAlarm" not in types:
            continue
        if names and name not in names or prefix and not name.startswith(prefix):
            continue
        if p.get("StateValue") and doc["StateValue"] != p["StateValue"]:
            continue
        action = p.get("ActionPrefix")
        if action and not any(a.startswith(action) for a in doc["AlarmActions"] + doc[
                "OKActions"] + doc["InsufficientDataActions"]):  # fmt: skip
            continue
        found.append(_public(doc))
    page, token = _page(found, p, p.get("MaxRecords") or 50)
    out: dict[str, Any] = {"MetricAlarms": page, "CompositeAlarms": []}
    if token:
        out["NextToken"] = token
    return out


@handles("DescribeAlarmsForMetric")
def describe_alarms_for_metric(call: Call) -> dict[str, Any]:
    p = call.params
    dims = sorted((d["Name"], d["Value"]) for d in p.get("Dimensions") or [])
    found = []
    for (region, _), doc in sorted(list(alarms_of(call).alarms.items())):
        if region != call.region or (doc["Namespace"], doc["MetricName"]) != (
                p["Namespace"], p["MetricName"]):  # fmt: skip
            continue
        if sorted((d["Name"], d["Value"]) for d in doc["Dimensions"]) != dims:
            continue
        if any(p.get(k) is not None and doc.get(k) != p[k]
               for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):  # fmt: skip
            continue
        found.append(_public(doc))
    return {"MetricAlarms": found}


@handles("DeleteAlarms")
def delete_alarms(call: Call) -> None:
    names = call.params["AlarmNames"]
    alarms = alarms_of(call)
    unknown = [n for n in names if (call.region, n) not in alarms.alarms]
    if unknown:
        raise AwsError("ResourceNotFound", f"The following alarms were not found: {unknown}", 404)
    alarms.delete(call.region, names)


@handles("SetAlarmState")
def set_alarm_state(call: Call) -> None:
    p = call.params
    alarms = alarms_of(call)
    if (call.region, p["AlarmName"]) not in alarms.alarms:
        raise AwsError("ResourceNotFound", "", 404)  # AWS's answer carries no message
    if p.get("StateReasonData") is not None:
        try:
            json.loads(p["StateReasonData"])
        except ValueError:
            raise AwsError("InvalidFormat", "StateReasonData is not valid JSON.", 400) from None
    alarms.set_state(call.region, p["AlarmName"], p["StateValue"], p["StateReason"],
                     p.get("StateReasonData"))  # fmt: skip


@handles("DescribeAlarmHistory")
def describe_alarm_history(call: Call) -> dict[str, Any]:
    p = call.params
    items = alarms_of(call).metrics.store.history(call.region, p.get("AlarmName"))
    start = epoch(p["StartDate"]) if p.get("StartDate") else None
    end = epoch(p["EndDate"]) if p.get("EndDate") else None
    kind = p.get("HistoryItemType")
    found = [
        i for i in items
        if (kind is None or i["HistoryItemType"] == kind)
        and (start is None or i["Timestamp"] >= start) and (end is None or i["Timestamp"] <= end)
    ]  # fmt: skip
    if p.get("ScanBy") == "TimestampAscending":
        found.reverse()
    page, token = _page(found, p, p.get("MaxRecords") or 100)
    out: dict[str, Any] = {"AlarmHistoryItems": page}
    if token:
        out["NextToken"] = token
    return out
