"""The CloudWatch metrics API on a real server: boto3 (json 1.0) and AWS CLI v2 (query)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from metrics_helpers import aws_v2, metrics_server, window

from conftest import ShoalServer, start_server, unique_name

__all__ = ["metrics_server"]


def dims(**kw: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in kw.items()]


def error(call, *args, **kwargs) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_put_values_and_read_every_statistic(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("App")
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims(Service="api"), "Unit": "Milliseconds",
         "Values": [10, 20, 30, 1000], "Counts": [1, 2, 1, 1]},
        {"MetricName": "Latency", "Dimensions": dims(Service="api"), "Unit": "Milliseconds",
         "Value": 5},
    ])  # fmt: skip
    start, end = window()
    got = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims(Service="api"), StartTime=start,
        EndTime=end, Period=1200, Statistics=["SampleCount", "Sum", "Average", "Minimum",
                                              "Maximum"],
    )  # fmt: skip
    assert got["Label"] == "Latency"
    (point,) = got["Datapoints"]
    assert point["SampleCount"] == 6 and point["Sum"] == 1085
    assert point["Minimum"] == 5 and point["Maximum"] == 1000
    assert point["Average"] == pytest.approx(1085 / 6) and point["Unit"] == "Milliseconds"
    ext = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims(Service="api"), StartTime=start,
        EndTime=end, Period=1200, ExtendedStatistics=["p50", "p99", "p100"],
    )["Datapoints"][0]["ExtendedStatistics"]  # fmt: skip
    # Percentiles from a 2 % log histogram (shoal.observability.stats): within 1 %.
    assert ext["p50"] == pytest.approx(20, rel=0.01)
    assert ext["p99"] == pytest.approx(1000, rel=0.01) and ext["p100"] == 1000
    # Another dimension set is another metric; a unit filter that matches nothing, no data.
    assert cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", StartTime=start, EndTime=end, Period=60,
        Statistics=["Sum"])["Datapoints"] == []  # fmt: skip
    assert cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims(Service="api"), StartTime=start,
        EndTime=end, Period=60, Statistics=["Sum"], Unit="Seconds")["Datapoints"] == []  # fmt: skip


def test_statistic_sets_and_high_resolution(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("App")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Batch", "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1,
                                                    "Maximum": 4}},
        {"MetricName": "Fast", "Value": 1, "StorageResolution": 1, "Timestamp": now},
        {"MetricName": "Fast", "Value": 2, "StorageResolution": 1,
         "Timestamp": now + dt.timedelta(seconds=1)},
    ])  # fmt: skip
    start, end = window()
    (point,) = cw.get_metric_statistics(
        Namespace=ns, MetricName="Batch", StartTime=start, EndTime=end, Period=1200,
        Statistics=["SampleCount", "Sum", "Maximum"])["Datapoints"]  # fmt: skip
    assert (point["SampleCount"], point["Sum"], point["Maximum"]) == (4, 10, 4)
    # No raw values: no percentile, as CloudWatch says of statistic sets.
    (point,) = cw.get_metric_statistics(
        Namespace=ns, MetricName="Batch", StartTime=start, EndTime=end, Period=1200,
        ExtendedStatistics=["p90"])["Datapoints"]  # fmt: skip
    assert point["ExtendedStatistics"] == {}
    seconds = cw.get_metric_statistics(
        Namespace=ns, MetricName="Fast", StartTime=now - dt.timedelta(seconds=10),
        EndTime=now + dt.timedelta(seconds=10), Period=1, Statistics=["Sum"],
    )["Datapoints"]
    assert sorted(p["Sum"] for p in seconds) == [1, 2]
    minute = cw.get_metric_statistics(
        Namespace=ns, MetricName="Fast", StartTime=start, EndTime=end, Period=1200,
        Statistics=["Sum"])["Datapoints"]  # fmt: skip
    assert [p["Sum"] for p in minute] == [3]


def test_bad_input_is_refused_as_cloudwatch_refuses_it(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    put = cw.put_metric_data
    assert error(put, Namespace="AWS/Lambda", MetricData=[{"MetricName": "x", "Value": 1}])[0] \
        == "InvalidParameterValue"  # fmt: skip
    code, message = error(put, Namespace="N", MetricData=[
        {"MetricName": "x", "Value": 1, "StatisticValues": {
            "SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])  # fmt: skip
    assert (code, message) == ("InvalidParameterCombination", "The parameters MetricData."
                               "member.1.Value and MetricData.member.1.StatisticValues are "
                               "mutually exclusive and you have specified both.")
    code, message = error(put, Namespace="N", MetricData=[
        {"MetricName": "x", "Values": [1, 2], "Counts": [1]}])  # fmt: skip
    assert (code, message) == ("InvalidParameterValue", "The parameters MetricData.member.1."
                               "Values and MetricData.member.1.Counts must be of the same size.")
    code, message = error(put, Namespace="N", MetricData=[
        {"MetricName": "x", "Value": 1, "Values": [1]}])  # fmt: skip
    assert (code, message) == ("InvalidParameterCombination", "The parameters MetricData."
                               "member.1.Value and MetricData.member.1.Values are mutually "
                               "exclusive and you have specified both.")
    code, message = error(put, Namespace="N", MetricData=[
        {"MetricName": "x", "Value": float("nan")}])  # fmt: skip
    assert (code, message) == ("InvalidParameterValue",
                               "The value NaN for parameter MetricData.member.1.Value is invalid.")
    # Values with StatisticValues AWS takes, as the LocalStack suite recorded against it.
    both = {"MetricName": "x", "Values": [1.0, 10.0],
            "StatisticValues": {"SampleCount": 10, "Sum": 55, "Minimum": 1, "Maximum": 10}}
    put(Namespace=unique_name("Both"), MetricData=[both])
    five = [{"MetricName": "x", "Value": 1, "StorageResolution": 5}]
    assert error(put, Namespace="N", MetricData=five)[0] == "InvalidParameterValue"
    assert error(put, Namespace="N", MetricData=[{"MetricName": "x"}])[0] == "MissingParameter"
    # The limits: 1000 metrics a request, and 1 MB a request (AWS's 413 RequestEntityTooLarge).
    many = [{"MetricName": f"m{i}", "Value": 1} for i in range(1001)]
    assert error(put, Namespace="N", MetricData=many) == (
        "InvalidParameterValue", "The collection MetricData must not have a size greater than 1000."
    )
    raw = boto3.client(
        "cloudwatch", endpoint_url=metrics_server.endpoint, region_name="us-east-1",
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}, disable_request_compression=True),
    )  # fmt: skip
    wide = [{"MetricName": f"m{i}", "Values": [v + 0.123456789 for v in range(150)]}
            for i in range(1000)]  # fmt: skip
    with pytest.raises(ClientError) as info:
        raw.put_metric_data(Namespace="N", MetricData=wide)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] == "RequestEntityTooLarge"
    assert re.fullmatch(r"Request size \d+ exceeded 1048576 bytes", err["Error"]["Message"])
    raw.close()
    start, end = window()
    stats = cw.get_metric_statistics
    code, message = error(stats, Namespace="N", MetricName="x", StartTime=start, EndTime=end,
                          Period=61, Statistics=["Sum"])  # fmt: skip
    assert code == "InvalidParameterValue" and "multiple of 60" in message
    code, message = error(stats, Namespace="N", MetricName="x", StartTime=start, EndTime=end,
                          Period=60, Statistics=["Sum"], ExtendedStatistics=["p9"])  # fmt: skip
    assert code == "InvalidParameterCombination"
    # AWS's answers as recorded against it (LocalStack's suite): a day by the second is
    # 86400 datapoints, over the limit; a day by the minute is 1440, at it; an empty range.
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    assert error(stats, Namespace="N", MetricName="x", StartTime=now, EndTime=now + day,
                 Period=1, Statistics=["SampleCount"]) == (
        "InvalidParameterCombination",
        "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.",
    )  # fmt: skip
    assert stats(Namespace=unique_name("Day"), MetricName="x", StartTime=now, EndTime=now + day,
                 Period=60, Statistics=["SampleCount"])["Datapoints"] == []  # fmt: skip
    assert error(stats, Namespace="N", MetricName="x", StartTime=now, EndTime=now, Period=1,
                 Statistics=["SampleCount"]) == (
        "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime."
    )  # fmt: skip


def test_list_metrics_filters_and_pages(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("List")
    data = [{"MetricName": f"m{i:03}", "Dimensions": dims(Shard=str(i % 2)), "Value": i}
            for i in range(600)]  # fmt: skip
    cw.put_metric_data(Namespace=ns, MetricData=data)
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    rest = cw.list_metrics(Namespace=ns, NextToken=first["NextToken"])
    assert len(rest["Metrics"]) == 100 and "NextToken" not in rest
    paged = [m["MetricName"] for page in cw.get_paginator("list_metrics").paginate(Namespace=ns)
             for m in page["Metrics"]]  # fmt: skip
    assert sorted(paged) == [f"m{i:03}" for i in range(600)]
    odd = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Shard", "Value": "1"}])
    assert len(odd["Metrics"]) == 300 and "NextToken" not in odd
    assert len(cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Shard"}])["Metrics"]) == 500
    one = cw.list_metrics(Namespace=ns, MetricName="m007", RecentlyActive="PT3H")["Metrics"]
    assert one == [{"Namespace": ns, "MetricName": "m007", "Dimensions": dims(Shard="1")}]


def test_get_metric_data_pages_orders_and_computes(metrics_server: ShoalServer) -> None:
    cw = metrics_server.client("cloudwatch")
    ns = unique_name("Data")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    data = []
    for minute in range(5):
        ts = now - dt.timedelta(minutes=minute)
        data.append({"MetricName": "A", "Value": minute + 1, "Timestamp": ts})
        data.append({"MetricName": "B", "Value": 10 * (minute + 1), "Timestamp": ts})
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(name: str) -> dict[str, object]:
        return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": "Sum"}

    queries = [
        {"Id": "a", "MetricStat": stat("A"), "Label": "the A"},
        {"Id": "b", "MetricStat": stat("B")},
        {"Id": "total", "Expression": "a + b"},
        {"Id": "all", "Expression": "SUM(METRICS())"},
    ]
    start, end = now - dt.timedelta(minutes=10), now + dt.timedelta(minutes=1)
    got = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert results["a"]["Label"] == "the A" and results["b"]["Label"] == "B"
    assert results["a"]["Values"] == [1, 2, 3, 4, 5]  # newest first (TimestampDescending)
    assert results["a"]["Timestamps"][0] == now
    assert results["total"]["Values"] == [11, 22, 33, 44, 55] == results["all"]["Values"]
    assert {r["StatusCode"] for r in results.values()} == {"Complete"}
    up = cw.get_metric_data(MetricDataQueries=queries[:1], StartTime=start, EndTime=end,
                            ScanBy="TimestampAscending")["MetricDataResults"][0]  # fmt: skip
    assert up["Values"] == [5, 4, 3, 2, 1]
    # Pages of 3 datapoints: PartialData, then the rest with NextToken.
    seen: dict[str, list[float]] = {"a": [], "b": []}
    token = None
    pages = 0
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(MetricDataQueries=queries[:2], StartTime=start, EndTime=end,
                                  MaxDatapoints=3, **kw)  # fmt: skip
        pages += 1
        for r in page["MetricDataResults"]:
            seen[r["Id"]] += r["Values"]
        if pages == 1:
            assert page["MetricDataResults"][0]["StatusCode"] == "PartialData"
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 4 and seen == {"a": [1, 2, 3, 4, 5], "b": [10, 20, 30, 40, 50]}
    # Labels as CloudWatch makes them when the queries differ in statistic or period.
    mixed = [{"Id": "s", "MetricStat": stat("A")},
             {"Id": "m", "MetricStat": {**stat("A"), "Stat": "Minimum", "Period": 120}}]
    labels = [r["Label"] for r in cw.get_metric_data(
        MetricDataQueries=mixed, StartTime=start, EndTime=end)["MetricDataResults"]]  # fmt: skip
    assert labels == ["A Sum 60", "A Minimum 120"]
    # Units: answered together when the query names none, with CloudWatch's message.
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "U", "Value": 1, "Unit": "Seconds", "Timestamp": now},
        {"MetricName": "U", "Value": 500, "Unit": "Milliseconds", "Timestamp": now}])  # fmt: skip
    (units,) = cw.get_metric_data(MetricDataQueries=[{"Id": "u", "MetricStat": stat("U")}],
                                  StartTime=start, EndTime=end)["MetricDataResults"]  # fmt: skip
    assert units["Values"] == [501.0] and units["Messages"] == [
        {"Code": "MultipleUnits", "Value": "Multiple units returned: '[Milliseconds, Seconds]'"}]
    code, _ = error(cw.get_metric_data, MetricDataQueries=[{"Id": "x", "Expression": "nope(a)"}],
                    StartTime=start, EndTime=end)  # fmt: skip
    assert code == "InvalidParameterValue"


def test_aws_cli_v2_reads_and_writes_over_the_query_protocol(metrics_server: ShoalServer) -> None:
    ns = unique_name("Cli")
    put = aws_v2(metrics_server, "cloudwatch", "put-metric-data", "--namespace", ns,
                 "--metric-name", "Hits", "--dimensions", "Site=a", "--value", "7",
                 "--unit", "Count")  # fmt: skip
    assert put.returncode == 0, put.stderr
    start, end = window()
    got = aws_v2(metrics_server, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                 "--metric-name", "Hits", "--dimensions", "Name=Site,Value=a",
                 "--start-time", start.isoformat(), "--end-time", end.isoformat(),
                 "--period", "1200", "--statistics", "Sum", "SampleCount")  # fmt: skip
    assert got.returncode == 0, got.stderr
    (point,) = json.loads(got.stdout)["Datapoints"]
    assert point["Sum"] == 7 and point["SampleCount"] == 1 and point["Unit"] == "Count"
    query = [{"Id": "h", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Hits",
              "Dimensions": [{"Name": "Site", "Value": "a"}]}, "Period": 60, "Stat": "Sum"}}]
    got = aws_v2(metrics_server, "cloudwatch", "get-metric-data", "--metric-data-queries",
                 json.dumps(query), "--start-time", start.isoformat(), "--end-time",
                 end.isoformat())  # fmt: skip
    assert got.returncode == 0, got.stderr
    (result,) = json.loads(got.stdout)["MetricDataResults"]
    assert result["Values"] == [7.0] and result["StatusCode"] == "Complete"
    bad = aws_v2(metrics_server, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                 "--metric-name", "Hits", "--start-time", start.isoformat(), "--end-time",
                 end.isoformat(), "--period", "61", "--statistics", "Sum")  # fmt: skip
    assert bad.returncode != 0 and "InvalidParameterValue" in bad.stderr


def test_data_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = start_server(tmp_path / "data", execution_role=False)
    try:
        srv.client("cloudwatch").put_metric_data(
            Namespace="Kept", MetricData=[{"MetricName": "n", "Value": 42}])  # fmt: skip
    finally:
        srv.stop()
    assert oct((tmp_path / "data" / "metrics.db").stat().st_mode & 0o777) == "0o600"
    srv = start_server(tmp_path / "data", execution_role=False)
    try:
        start, end = window()
        points = srv.client("cloudwatch").get_metric_statistics(
            Namespace="Kept", MetricName="n", StartTime=start, EndTime=end, Period=1200,
            Statistics=["Sum"])["Datapoints"]  # fmt: skip
        assert [p["Sum"] for p in points] == [42]
    finally:
        srv.stop()


def cbor_client(srv: ShoalServer, tmp: Path):  # type: ignore[no-untyped-def]
    """boto3's CloudWatch client speaking smithy-rpc-v2-cbor: its own model listing only that
    protocol, found ahead of botocore's data."""
    loader = botocore.session.get_session().get_component("data_loader")
    raw = loader.load_service_model("cloudwatch", "service-2")
    raw["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    target = tmp / "cloudwatch" / raw["metadata"]["apiVersion"] / "service-2.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(raw))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp))
    return session.create_client(
        "cloudwatch", endpoint_url=srv.endpoint, region_name="us-east-1",
        aws_access_key_id="shoal", aws_secret_access_key="shoal",
        config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


def test_the_same_operations_over_cbor(metrics_server: ShoalServer, tmp_path: Path) -> None:
    cw = cbor_client(metrics_server, tmp_path)
    ns = unique_name("Cbor")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    datum = {"MetricName": "m", "Values": [1.5, 2.5], "Timestamp": now, "Unit": "Seconds"}
    cw.put_metric_data(Namespace=ns, MetricData=[datum])
    got = cw.get_metric_statistics(
        Namespace=ns, MetricName="m", StartTime=now, EndTime=now + dt.timedelta(minutes=1),
        Period=60, Statistics=["Sum", "Maximum"])  # fmt: skip
    assert got["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/cbor"
    (point,) = got["Datapoints"]
    assert (point["Sum"], point["Maximum"], point["Timestamp"]) == (4.0, 2.5, now)
    data = cw.get_metric_data(StartTime=now, EndTime=now + dt.timedelta(minutes=1),
                              MetricDataQueries=[{"Id": "q", "MetricStat": {
                                  "Metric": {"Namespace": ns, "MetricName": "m"},
                                  "Period": 60, "Stat": "Average"}}])  # fmt: skip
    assert data["MetricDataResults"][0]["Values"] == [2.0]
    assert data["MetricDataResults"][0]["Timestamps"] == [now]
