"""CloudWatch Logs' operations are authorized as IAM says: ``logs:ACTION`` on the log group's
ARN (``arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*``), DescribeLogGroups on ``log-group:*``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conftest import ShoalServer, unique_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "identity"))
from principals import ACCOUNT, error_of, new_user, root_client  # noqa: E402


def test_a_user_reads_only_the_groups_its_policy_names(server: ShoalServer) -> None:
    mine, other = f"/iam/{unique_name('mine')}", f"/iam/{unique_name('other')}"
    logs = root_client(server, "logs")
    for group in (mine, other):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    user = new_user(server, {
        "Effect": "Allow", "Action": ["logs:FilterLogEvents", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{mine}:*",
    })  # fmt: skip
    theirs: Any = user.client(server, "logs")
    events = [{"timestamp": 1_000, "message": "x"}]
    theirs.put_log_events(logGroupName=mine, logStreamName="s", logEvents=events)
    assert theirs.filter_log_events(logGroupName=mine)["events"] == []  # too old: rejected
    code, status, message = error_of(lambda: theirs.filter_log_events(logGroupName=other))
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"logs:FilterLogEvents on resource: arn:aws:logs:us-east-1:{ACCOUNT}:log-group:" \
        f"{other}:*" in message  # fmt: skip
    code, _, _ = error_of(lambda: theirs.put_log_events(logGroupName=other, logStreamName="s",
                                                         logEvents=events))  # fmt: skip
    assert code == "AccessDeniedException"
    assert error_of(lambda: theirs.describe_log_groups())[0] == "AccessDeniedException"
    assert error_of(lambda: theirs.delete_log_group(logGroupName=mine))[0] == (
        "AccessDeniedException"
    )
    assert logs.describe_log_groups(logGroupNamePrefix=mine)["logGroups"]
