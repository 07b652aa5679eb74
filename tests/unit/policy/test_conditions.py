"""IAM's condition operators, one row per documented behaviour."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.policy import Kind, Principal, Request, evaluate, parse

ME = Principal(arn="arn:aws:iam::123456789012:user/dev", account="123456789012", user_name="dev")


class Malformed(Exception):
    pass


def holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    doc = parse(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}]}),
        Kind.IDENTITY, Malformed)  # fmt: skip
    return evaluate(Request(ME, "s3:GetObject", "arn:aws:s3:::b/k", context), [doc]).allowed


ROWS = [
    # strings
    ({"StringEquals": {"k": "a"}}, {"k": "a"}, True),
    ({"StringEquals": {"k": "a"}}, {"k": "A"}, False),
    ({"StringEquals": {"K": ["x", "a"]}}, {"k": "a"}, True),  # values OR; keys case-insensitive
    ({"StringEquals": {"k": "a", "j": "b"}}, {"k": "a", "j": "c"}, False),  # keys AND
    ({"StringEquals": {"k": "a"}, "StringLike": {"j": "b*"}}, {"k": "a", "j": "bee"}, True),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, {"k": "abc"}, True),
    ({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, {"k": "abc"}, False),
    ({"StringLike": {"k": "a?c*"}}, {"k": "abcdef"}, True),
    ({"StringLike": {"k": "a?c*"}}, {"k": "ac"}, False),
    ({"StringNotLike": {"k": "tmp/*"}}, {"k": "home/x"}, True),
    # a key the request lacks
    ({"StringEquals": {"k": "a"}}, {}, False),
    ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
    ({"StringEqualsIfExists": {"k": "a"}}, {"k": "b"}, False),
    ({"StringNotEquals": {"k": "a"}}, {}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
    ({"Null": {"k": "true"}}, {}, True),
    ({"Null": {"k": "true"}}, {"k": "x"}, False),
    ({"Null": {"k": "false"}}, {"k": "x"}, True),
    # numbers, dates, booleans, binaries, addresses, ARNs
    ({"NumericLessThan": {"n": "10"}}, {"n": "9.5"}, True),
    ({"NumericGreaterThanEquals": {"n": 10}}, {"n": "10"}, True),
    ({"NumericEquals": {"n": "10"}}, {"n": "ten"}, False),
    ({"NumericNotEquals": {"n": "10"}}, {"n": "11"}, True),
    (
        {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2026-12-03T12:00:00Z"},
        True,
    ),
    (
        {"DateGreaterThan": {"aws:CurrentTime": "2027-01-01"}},
        {"aws:CurrentTime": "2026-12-03T12:00:00Z"},
        False,
    ),
    ({"DateGreaterThan": {"aws:EpochTime": "1700000000"}}, {"aws:EpochTime": "1800000000"}, True),
    ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    ({"BinaryEquals": {"k": "QUJD"}}, {"k": "QUJD"}, True),
    ({"BinaryEquals": {"k": "QUJD"}}, {"k": "QUJE"}, False),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, True),
    (
        {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
        {"aws:SourceIp": "2001:db8::1"},
        True,
    ),
    ({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "not-an-ip"}, False),
    (
        {"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:123456789012:abc/*"}},
        {"aws:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/x"},
        True,
    ),
    (
        {"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*:123456789012:abc/*"}},
        {"aws:SourceArn": "arn:aws:execute-api:us-east-1:999999999999:abc/prod/GET/x"},
        False,
    ),
    (
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sqs:*:1:q"}},
        {"aws:SourceArn": "arn:aws:sqs:x"},
        False,
    ),
    (
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}},
        {"aws:SourceArn": "arn:aws:sns:us-east-1:1:other"},
        True,
    ),
    # multivalued keys and the set operators
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
    (
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["a", "c"]},
        False,
    ),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, True),  # absent: holds
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["c", "a"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, False),  # absent: fails
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "b"]}, True),
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "b"]}, False),
    # policy variables in values
    ({"StringEquals": {"k": "${aws:username}"}}, {"k": "dev"}, True),
    ({"StringEquals": {"k": "${aws:username}"}}, {"k": "eve"}, False),
    ({"StringLike": {"k": "home/${aws:username}/*"}}, {"k": "home/dev/a"}, True),
]


@pytest.mark.parametrize(("condition", "context", "expected"), ROWS)
def test_condition_operators(condition: dict[str, Any], context: dict[str, Any],
                             expected: bool) -> None:  # fmt: skip
    assert holds(condition, context) is expected


def test_principal_keys_come_from_the_principal() -> None:
    assert holds({"StringEquals": {"aws:PrincipalArn": ME.arn}}, {})
    assert holds({"StringEquals": {"aws:PrincipalAccount": "123456789012"}}, {})
    # A request cannot claim another principal through its own context.
    assert not holds({"StringEquals": {"aws:username": "root"}}, {"aws:username": "root"})
