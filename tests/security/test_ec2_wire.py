"""Attacks on the ec2 protocol over the wire: keys built to make parsing quadratic, markup
smuggled into values, and a flood of list items. Each answers in EC2's error shape, fast, and
the server goes on serving."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from conftest import ShoalServer, signed_headers


def _post(server: ShoalServer, body: bytes) -> tuple[int, str]:
    headers = signed_headers("POST", server.endpoint + "/", body, "ec2",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    request = urllib.request.Request(server.endpoint + "/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def test_deep_keys_are_refused_before_they_cost(server: ShoalServer) -> None:
    # 40,000 dotted parts: indexing every prefix would copy ~800 million characters.
    deep = b"Action=DescribeVpcs&Version=2016-11-15&" + b"Filter." * 40_000 + b"Name=x"
    started = time.monotonic()
    status, body = _post(server, deep)
    assert time.monotonic() - started < 5
    assert status == 400 and "<Code>UnknownParameter</Code>" in body
    # The same request at a real depth is served.
    status, body = _post(server, b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id"
                                 b"&Filter.1.Value.1=vpc-0")  # fmt: skip
    assert status == 200 and "<vpcSet/>" in body.replace("<vpcSet></vpcSet>", "<vpcSet/>")


def test_markup_in_values_stays_text(server: ShoalServer) -> None:
    ec2: Any = server.client("ec2")
    evil = '</value></item></tagSet><isDefault>true</isDefault><x a="'
    vpc = ec2.create_vpc(
        CidrBlock="10.77.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": evil}]}],
    )["Vpc"]
    (got,) = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]
    assert got["Tags"] == [{"Key": "Name", "Value": evil}] and got["IsDefault"] is False
    ec2.delete_vpc(VpcId=vpc["VpcId"])


def test_a_flood_of_list_items_is_linear(server: ShoalServer) -> None:
    items = b"&".join(b"Filter.1.Value.%d=v%d" % (i, i) for i in range(1, 50_001))
    started = time.monotonic()
    status, body = _post(server, b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id&"
                                 + items)  # fmt: skip
    # A bound against a hang, not a rate: on a loaded 2-core machine the full suite's server
    # has taken 11.5 s (a fresh one 1.9-4.4 s).
    assert time.monotonic() - started < 30
    assert status == 200 and "<requestId>" in body
