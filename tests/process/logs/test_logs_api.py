"""CloudWatch Logs' API through boto3 as a user calls it: groups, streams, events, tokens,
paginators, retention, tags and AWS's errors; function output as ``/aws/lambda/NAME``."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ShoalServer, create_function, unique_name, wait_for

ACCOUNT = "123456789012"


def now_ms() -> int:
    return int(time.time() * 1000)


def error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return str(err["Code"]), str(err["Message"])


@pytest.fixture
def logs(server: ShoalServer) -> Any:
    return server.client("logs")


@pytest.fixture
def group(logs: Any) -> str:
    name = f"/test/{unique_name('g')}"
    logs.create_log_group(logGroupName=name)
    return name


def put(logs: Any, group: str, stream: str, messages: list[str], start: int | None = None) -> None:
    start = now_ms() if start is None else start
    logs.put_log_events(
        logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)],
    )  # fmt: skip


def test_a_group_is_described_in_aws_shape(logs: Any) -> None:
    name = f"/test/{unique_name('shape')}"
    before = now_ms()
    logs.create_log_group(logGroupName=name, tags={"team": "a"})
    (g,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    assert g["logGroupName"] == name and g["arn"] == f"{arn}:*" and g["logGroupArn"] == arn
    assert before - 1000 <= g["creationTime"] <= now_ms()
    assert g["storedBytes"] == 0 and g["metricFilterCount"] == 0
    assert g["logGroupClass"] == "STANDARD" and "retentionInDays" not in g
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"team": "a"}
    code, message = error(logs.create_log_group, logGroupName=name)
    assert (code, message) == (
        "ResourceAlreadyExistsException", "The specified log group already exists"
    )
    long_name = ("InvalidParameterException",
                 "Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
    assert error(logs.create_log_group, logGroupName="a" * 513) == long_name  # AWS's (recorded)
    assert error(logs.create_log_stream, logGroupName=name, logStreamName="s" * 513) == long_name
    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert error(logs.delete_log_group, logGroupName=name) == (
        "ResourceNotFoundException", "The specified log group does not exist."
    )


def test_describe_log_groups_pages_prefix_and_pattern(logs: Any) -> None:
    base = f"/pages/{unique_name('p')}"
    names = sorted(f"{base}/{i:02d}" for i in range(7))
    for n in names:
        logs.create_log_group(logGroupName=n)
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=base, PaginationConfig={"PageSize": 3}
    )
    seen = [[g["logGroupName"] for g in page["logGroups"]] for page in pages]
    assert seen == [names[0:3], names[3:6], names[6:7]]
    got = logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1] + "/03")
    assert [g["logGroupName"] for g in got["logGroups"]] == [names[3]]
    # What AWS answers of a group found by pattern (recorded against AWS): no storedBytes.
    assert got["logGroups"][0].keys() == {
        "logGroupName", "creationTime", "metricFilterCount", "arn", "logGroupClass", "logGroupArn"
    }
    assert got["logGroups"][0]["logGroupClass"] == "STANDARD"
    assert error(logs.describe_log_groups, logGroupNamePrefix=base, logGroupNamePattern="x") == (
        "InvalidParameterException",
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
    )
    assert error(logs.describe_log_groups, nextToken="!!not-a-token")[0] == (
        "InvalidParameterException"
    )
    code, message = error(logs.describe_log_groups, limit=51)
    assert code == "InvalidParameterException"
    assert message == (
        "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"
    )


def test_streams_are_described_and_ordered(logs: Any, group: str) -> None:
    for name in ("b", "a", "c"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    # A stream without events, as AWS describes it (recorded): no timestamps, no token.
    (empty,) = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="a")["logStreams"]
    assert empty.keys() == {"logStreamName", "creationTime", "arn", "storedBytes"}
    assert empty["storedBytes"] == 0
    assert error(logs.create_log_stream, logGroupName=group, logStreamName="a") == (
        "ResourceAlreadyExistsException", "The specified log stream already exists"
    )
    t = now_ms()
    put(logs, group, "c", ["x"], t - 3000)
    put(logs, group, "a", ["hello", "world"], t - 2000)
    put(logs, group, "b", ["y"], t - 1000)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b", "c"]
    a = streams[0]
    assert a["firstEventTimestamp"] == t - 2000 and a["lastEventTimestamp"] == t - 1999
    assert a["storedBytes"] == len("helloworld") and a["lastIngestionTime"] >= t - 1000
    assert a["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:log-stream:a"
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                        descending=True)["logStreams"]  # fmt: skip
    assert [s["logStreamName"] for s in by_time] == ["b", "a", "c"]
    pages = logs.get_paginator("describe_log_streams").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}
    )
    assert [[s["logStreamName"] for s in p["logStreams"]] for p in pages] == [["a", "b"], ["c"]]
    assert error(logs.describe_log_streams, logGroupName=group, logStreamNamePrefix="a",
                 orderBy="LastEventTime") == (
        "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix."
    )  # fmt: skip
    (g,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["storedBytes"] == len("helloworldxy")
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    assert error(logs.get_log_events, logGroupName=group, logStreamName="a") == (
        "ResourceNotFoundException", "The specified log stream does not exist."
    )
    assert error(logs.describe_log_streams, logGroupName="/no/such/group")[0] == (
        "ResourceNotFoundException"
    )


def test_get_log_events_tokens_and_the_end(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms() - 10_000
    put(logs, group, "s", [f"m{i}" for i in range(10)], t)
    # From the head, three at a time, until the forward token comes back unchanged.
    seen: list[str] = []
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, limit=3)
    while got["events"]:
        seen += [e["message"] for e in got["events"]]
        token = got["nextForwardToken"]
        assert token.startswith("f/")
        got = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token,
                                  limit=3)  # fmt: skip
    assert seen == [f"m{i}" for i in range(10)]
    assert got["nextForwardToken"] == token  # the end: the same token
    # Without a token: the latest events; backward from there.
    tail = logs.get_log_events(logGroupName=group, logStreamName="s", limit=4)
    assert [e["message"] for e in tail["events"]] == ["m6", "m7", "m8", "m9"]
    assert tail["nextBackwardToken"].startswith("b/")
    back = logs.get_log_events(logGroupName=group, logStreamName="s", limit=4,
                               nextToken=tail["nextBackwardToken"])  # fmt: skip
    assert [e["message"] for e in back["events"]] == ["m2", "m3", "m4", "m5"]
    e = back["events"][0]
    assert e["timestamp"] == t + 2 and e["ingestionTime"] >= e["timestamp"]
    # A time range: [start, end).
    ranged = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True,
                                 startTime=t + 3, endTime=t + 5)  # fmt: skip
    assert [e["message"] for e in ranged["events"]] == ["m3", "m4"]
    assert error(logs.get_log_events, logGroupName=group, logStreamName="s",
                 nextToken="x/1/2") == (
        "InvalidParameterException", "The specified nextToken is invalid."
    )  # fmt: skip
    assert error(logs.get_log_events, logGroupName=group, logStreamName="s", limit=10001) == (
        "InvalidParameterException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    )  # AWS's answer, as recorded
    assert error(logs.get_log_events, logGroupName="/none", logStreamName="s") == (
        "ResourceNotFoundException", "The specified log group does not exist."
    )


def test_filter_log_events_pages_streams_and_patterns(logs: Any, group: str) -> None:
    t = now_ms() - 60_000
    for stream in ("app/1", "app/2", "other"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    put(logs, group, "app/1", ["ERROR one", "ok", "ERROR three"], t)
    put(logs, group, "app/2", ["ERROR two", "fine"], t + 10)
    put(logs, group, "other", ["ERROR other"], t + 20)
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}
    )
    events = [e for page in pages for e in page["events"]]
    assert [e["message"] for e in events] == [
        "ERROR one", "ok", "ERROR three", "ERROR two", "fine", "ERROR other"
    ]
    assert {"eventId", "ingestionTime", "logStreamName", "timestamp"} <= events[0].keys()
    assert len({e["eventId"] for e in events}) == 6
    got = logs.filter_log_events(logGroupName=group, filterPattern="ERROR")
    assert [e["message"] for e in got["events"]] == [
        "ERROR one", "ERROR three", "ERROR two", "ERROR other"
    ]
    assert "nextToken" not in got
    got = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="app/",
                                 filterPattern="ERROR", startTime=t + 2, endTime=t + 10)
    assert [(e["logStreamName"], e["message"]) for e in got["events"]] == [
        ("app/1", "ERROR three"), ("app/2", "ERROR two")
    ]
    assert sorted(s["logStreamName"] for s in got["searchedLogStreams"]) == ["app/1", "app/2"]
    # Stream names and a prefix together: the guide's InvalidParameterException.
    assert error(logs.filter_log_events, logGroupName=group, logStreamNames=["other"],
                 logStreamNamePrefix="app/")[0] == "InvalidParameterException"  # fmt: skip
    got = logs.filter_log_events(logGroupName=group, logStreamNames=["other"])
    assert [e["message"] for e in got["events"]] == ["ERROR other"]
    got = logs.filter_log_events(logGroupName=group, filterPattern="ERROR two")
    assert [e["message"] for e in got["events"]] == ["ERROR two"]
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    got = logs.filter_log_events(logGroupIdentifier=arn, filterPattern="fine")
    assert [e["message"] for e in got["events"]] == ["fine"]
    assert error(logs.filter_log_events, logGroupName=group, nextToken="nope") == (
        "InvalidParameterException", "The specified nextToken is invalid."
    )
    assert error(logs.filter_log_events, logGroupName=group, limit=10001) == (
        "InvalidParameterException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    )
    assert error(logs.filter_log_events, logGroupName=group, logGroupIdentifier=arn)[0] == (
        "ValidationException"
    )


def test_put_log_events_rules(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    out = logs.put_log_events(logGroupName=group, logStreamName="s", sequenceToken="ignored",
                              logEvents=[{"timestamp": t, "message": "a"}])  # fmt: skip
    assert out["nextSequenceToken"] and "rejectedLogEventsInfo" not in out
    assert error(
        logs.put_log_events, logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "c"}],
    ) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )  # fmt: skip
    day = 86_400_000
    out = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 15 * day, "message": "too old"},
        {"timestamp": t - 15 * day + 1, "message": "too old too"},
    ])  # fmt: skip
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    assert error(logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 2 * day, "message": "two days"}, {"timestamp": t, "message": "now"},
    ])[1] == (
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    )  # fmt: skip
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": t + 1, "message": "kept"}])  # fmt: skip
    out = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t + 2, "message": "kept too"},
        {"timestamp": t + 3 * 3600_000, "message": "too new"},
    ])  # fmt: skip
    assert out["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["a", "kept", "kept too"]
    big = "x" * (1_048_576 - 26 + 1)
    code, _ = error(logs.put_log_events, logGroupName=group, logStreamName="s",
                    logEvents=[{"timestamp": t, "message": big}])  # fmt: skip
    assert code == "InvalidParameterException"
    assert error(logs.put_log_events, logGroupName=group, logStreamName="none",
                 logEvents=[{"timestamp": t, "message": "x"}]) == (
        "ResourceNotFoundException", "The specified log stream does not exist."
    )  # fmt: skip
    assert error(logs.put_log_events, logGroupName="/no/group", logStreamName="s",
                 logEvents=[{"timestamp": t, "message": "x"}])[0] == "ResourceNotFoundException"


def test_retention_and_tags(logs: Any, group: str) -> None:
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    (g,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["retentionInDays"] == 7
    code, message = error(logs.put_retention_policy, logGroupName=group, retentionInDays=2)
    assert code == "InvalidParameterException" and "enum value set: [1, 3, 5, 7" in message
    # An event older than the retention is expired: reported, not stored (AWS's rule).
    logs.create_log_stream(logGroupName=group, logStreamName="r")
    t = now_ms()
    out = logs.put_log_events(logGroupName=group, logStreamName="r", logEvents=[
        {"timestamp": t - 7 * 86_400_000 - 3_600_000, "message": "expired"},
        {"timestamp": t - 7 * 86_400_000 + 3_600_000, "message": "kept"},
    ])  # fmt: skip
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    got = logs.get_log_events(logGroupName=group, logStreamName="r", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["kept"]
    logs.delete_retention_policy(logGroupName=group)
    (g,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in g
    assert error(logs.put_retention_policy, logGroupName="/none", retentionInDays=1)[0] == (
        "ResourceNotFoundException"
    )
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    logs.untag_log_group(logGroupName=group, tags=["b"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"c": "3"}
    too_many = {f"k{i}": "v" for i in range(51)}
    assert error(logs.tag_resource, resourceArn=arn, tags=too_many)[0] in (
        "TooManyTagsException", "InvalidParameterException"
    )
    assert error(logs.list_tags_for_resource, resourceArn=arn + "-none")[0] == (
        "ResourceNotFoundException"
    )


def test_groups_are_regional(server: ShoalServer) -> None:
    name = f"/test/{unique_name('region')}"
    server.client("logs", region="eu-west-1").create_log_group(logGroupName=name)
    us = server.client("logs")
    assert us.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []  # type: ignore[attr-defined]


def test_function_output_is_its_log_group(lambda_client: Any, logs: Any) -> None:
    code = "def handler(e, c):\n    print('hello from', c.function_name)\n    return 1\n"
    name = create_function(lambda_client, code=code)
    lambda_client.invoke(FunctionName=name)
    group = f"/aws/lambda/{name}"

    def streams() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return found

    (stream,) = wait_for(streams)
    assert stream["logStreamName"].endswith(tuple("0123456789abcdef"))
    assert "/[$LATEST]" in stream["logStreamName"]
    got = logs.filter_log_events(logGroupName=group, filterPattern="hello from")
    assert [e["message"] for e in got["events"]] == [f"hello from {name}"]
    got = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                              startFromHead=True)  # fmt: skip
    messages = [e["message"] for e in got["events"]]
    assert messages[0].startswith("START RequestId:") and messages[-1].startswith("REPORT")


def test_a_functions_logging_config_log_group_receives_its_output(
    lambda_client: Any, logs: Any
) -> None:
    code = "def handler(e, c):\n    print('to my own group')\n    return 1\n"
    name = create_function(lambda_client, code=code)
    group = f"/custom/{name}"
    lambda_client.update_function_configuration(FunctionName=name,
                                                LoggingConfig={"LogGroup": group})  # fmt: skip
    wait_for(lambda: lambda_client.get_function(FunctionName=name)["Configuration"][
        "LastUpdateStatus"] == "Successful")  # fmt: skip
    lambda_client.invoke(FunctionName=name)

    def found() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = logs.filter_log_events(
            logGroupName=group, filterPattern='"to my own group"')["events"]  # fmt: skip
        return got

    (event,) = wait_for(found)
    assert "/[$LATEST]" in event["logStreamName"]
    default = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert default == []  # Lambda writes to the configured group only
