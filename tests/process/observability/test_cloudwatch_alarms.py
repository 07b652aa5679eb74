"""Metric alarms on a real server evaluating every 0.2 s: INSUFFICIENT_DATA → ALARM → OK from
the data, DescribeAlarms filters, history, DeleteAlarms, and AWS's errors."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError
from metrics_helpers import aws_v2, metrics_server

from conftest import ShoalServer, unique_name, wait_for

__all__ = ["metrics_server"]


def state(cw, name: str) -> str:  # type: ignore[no-untyped-def]
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return str(alarm["StateValue"])


def test_an_alarm_goes_to_alarm_and_back_to_ok(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns, name = unique_name("Alarmed"), unique_name("alarm")
    cw.put_metric_alarm(
        AlarmName=name, Namespace=ns, MetricName="Queue", Statistic="Maximum", Period=10,
        EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        Dimensions=[{"Name": "Q", "Value": "jobs"}],
    )  # fmt: skip
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert alarm["StateValue"] in ("INSUFFICIENT_DATA", "OK")
    # Just after a 10-second period begins, so the value stays in the window long enough.
    while time.time() % 10 > 5:
        time.sleep(0.1)
    cw.put_metric_data(Namespace=ns, MetricData=[{
        "MetricName": "Queue", "Dimensions": [{"Name": "Q", "Value": "jobs"}], "Value": 100,
        "StorageResolution": 1}])  # fmt: skip
    wait_for(lambda: state(cw, name) == "ALARM", timeout=5)
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    # CloudWatch's words (LocalStack's snapshot recorded against AWS has the same shape).
    assert re.fullmatch(r"Threshold Crossed: 1 datapoint \[100\.0 \(\d\d/\d\d/\d\d "
                        r"\d\d:\d\d:\d\d\)\] was greater than the threshold \(50\.0\)\.",
                        alarm["StateReason"]), alarm["StateReason"]  # fmt: skip
    data = json.loads(alarm["StateReasonData"])
    assert data["recentDatapoints"] == [100.0] and data["statistic"] == "Maximum"
    assert data["evaluatedDatapoints"][0]["sampleCount"] == 1.0
    # The next period has no data, which the alarm treats as not breaching: back to OK.
    wait_for(lambda: state(cw, name) == "OK", timeout=15)
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateReason"] == ("Threshold Crossed: no datapoints were received for 1 period "
                                    "and 1 missing datapoint was treated as [NonBreaching].")
    assert [a["AlarmName"] for a in cw.describe_alarms(StateValue="OK",
            AlarmNamePrefix=name)["MetricAlarms"]] == [name]  # fmt: skip
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    summaries = [h["HistorySummary"] for h in history["AlarmHistoryItems"]]
    assert summaries[0] == "Alarm updated from ALARM to OK"
    assert summaries[1] == "Alarm updated from OK to ALARM"  # no data, not breaching: OK first
    assert cw.describe_alarms_for_metric(
        Namespace=ns, MetricName="Queue", Dimensions=[{"Name": "Q", "Value": "jobs"}]
    )["MetricAlarms"][0]["AlarmName"] == name  # fmt: skip
    cw.delete_alarms(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_datapoints_to_alarm_m_out_of_n(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns, name = unique_name("MofN"), unique_name("alarm")
    now = time.time()
    start = now - now % 60 - 240
    # Five minutes: two breaching values out of the last five.
    for i, value in enumerate([1, 9, 1, 9, 1]):
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": "m", "Value": value, "Timestamp": start + 60 * i}])  # fmt: skip
    cw.put_metric_alarm(
        AlarmName=name, Namespace=ns, MetricName="m", Statistic="Sum", Period=60,
        EvaluationPeriods=5, DatapointsToAlarm=2, Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    assert state(cw, name) == "ALARM"  # evaluated at once
    cw.put_metric_alarm(
        AlarmName=name, Namespace=ns, MetricName="m", Statistic="Sum", Period=60,
        EvaluationPeriods=5, DatapointsToAlarm=3, Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    assert state(cw, name) == "OK"
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing")
    (alarm,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing")


def test_alarm_errors(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")

    def code(**kw) -> str:  # type: ignore[no-untyped-def]
        args = dict(AlarmName="bad", Namespace="N", MetricName="m", Statistic="Sum", Period=60,
                    EvaluationPeriods=1, Threshold=1,
                    ComparisonOperator="GreaterThanThreshold")  # fmt: skip
        args.update(kw)
        with pytest.raises(ClientError) as e:
            cw.put_metric_alarm(**{k: v for k, v in args.items() if v is not None})
        return str(e.value.response["Error"]["Code"])

    assert code(Period=61) == "InvalidParameterValue"
    assert code(DatapointsToAlarm=2) == "InvalidParameterValue"
    assert code(ExtendedStatistic="p90") == "InvalidParameterCombination"
    assert code(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold") \
        == "InvalidParameterValue"  # an anomaly-detection operator, not for a static threshold
    with pytest.raises(ClientError) as e:
        cw.delete_alarms(AlarmNames=["no-such-alarm"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as e:  # AWS (recorded): a 404 without a message
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="r")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    assert e.value.response["Error"].get("Message", "") == ""
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:  # AWS (recorded): the query code ValidationError
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="INVALID", StateReason="r")
    err = e.value.response["Error"]
    assert (err["Code"], err["QueryErrorCode"]) == ("ValidationError", "ValidationException")
    assert err["Message"].startswith(
        "1 validation error detected: Value 'INVALID' at 'stateValue' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )


def test_alarms_over_the_query_protocol_with_aws_cli_v2(metrics_server: ShoalServer) -> None:
    name = unique_name("cli-alarm")
    put = aws_v2(metrics_server, "cloudwatch", "put-metric-alarm", "--alarm-name", name,
                 "--namespace", "CliNs", "--metric-name", "m", "--statistic", "Sum",
                 "--period", "60", "--evaluation-periods", "1", "--threshold", "5",
                 "--comparison-operator", "GreaterThanThreshold", "--dimensions",
                 "Name=Q,Value=jobs", "--treat-missing-data", "breaching")  # fmt: skip
    assert put.returncode == 0, put.stderr
    got = aws_v2(metrics_server, "cloudwatch", "describe-alarms", "--alarm-names", name)
    assert got.returncode == 0, got.stderr
    (alarm,) = json.loads(got.stdout)["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"  # no data, treated as breaching
    assert alarm["Dimensions"] == [{"Name": "Q", "Value": "jobs"}] and alarm["Threshold"] == 5
    history = aws_v2(metrics_server, "cloudwatch", "describe-alarm-history", "--alarm-name", name)
    assert history.returncode == 0, history.stderr
    kinds = {h["HistoryItemType"] for h in json.loads(history.stdout)["AlarmHistoryItems"]}
    assert kinds == {"ConfigurationUpdate", "StateUpdate"}
    gone = aws_v2(metrics_server, "cloudwatch", "delete-alarms", "--alarm-names", name)
    assert gone.returncode == 0, gone.stderr
