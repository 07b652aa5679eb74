"""Policy documents are validated as IAM validates each kind, with the caller's error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.policy import Kind, parse


class Malformed(Exception):
    pass


def check(kind: Kind, statement: Any, **top: Any) -> str:
    doc = {"Version": "2012-10-17", "Statement": statement, **top}
    with pytest.raises(Malformed) as e:
        parse(json.dumps(doc), kind, Malformed)
    return str(e.value)


ALLOW = {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}


def test_identity_policies_name_no_principal_and_some_resource() -> None:
    assert check(Kind.IDENTITY, [{**ALLOW, "Principal": "*"}]) == (
        "Policy document should not specify a principal."
    )
    assert check(Kind.IDENTITY, [{"Effect": "Allow", "Action": "lambda:*"}]) == (
        "Policy statement must contain resources."
    )


def test_resource_and_trust_policies_need_a_principal() -> None:
    assert check(Kind.RESOURCE, [ALLOW]) == "Missing required field Principal"
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
             "Action": "sts:AssumeRole", "Resource": "*"}  # fmt: skip
    assert check(Kind.TRUST, [trust]) == "Has prohibited field Resource"


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ({**ALLOW, "Effect": "Maybe"}, "Effect"),
        ({"Effect": "Allow", "Resource": "*"}, "must contain actions"),
        ({**ALLOW, "NotAction": "iam:*"}, "must contain actions"),
        ({**ALLOW, "Action": "invoke"}, "prefaced by a vendor"),
        ({**ALLOW, "Resource": "function:x"}, "ARN format"),
        ({**ALLOW, "Condition": {"StringSort": {"k": "v"}}}, "Invalid Condition type"),
        ({**ALLOW, "Condition": {"ForSome:StringEquals": {"k": "v"}}}, "set operator"),
        ({**ALLOW, "Condition": {"StringEquals": {"k": {"nested": 1}}}}, "scalars"),
        ({**ALLOW, "Bogus": 1}, "Unknown field"),
        ({**ALLOW, "Sid": "not valid!"}, "Sid"),
    ],
)
def test_malformed_statements(statement: dict[str, Any], words: str) -> None:
    assert words in check(Kind.IDENTITY, [statement])


def test_document_level_errors() -> None:
    with pytest.raises(Malformed, match="Syntax errors"):
        parse("{not json", Kind.IDENTITY, Malformed)
    with pytest.raises(Malformed, match="Syntax errors"):
        parse("[" * 100000, Kind.IDENTITY, Malformed)  # nesting beyond the decoder's depth
    assert check(Kind.IDENTITY, [ALLOW], Version="2020-01-01") == "The policy failed legacy parsing"
    assert "unique" in check(Kind.IDENTITY, [{**ALLOW, "Sid": "a"}, {**ALLOW, "Sid": "a"}])
    with pytest.raises(Malformed, match="Statement"):
        parse(json.dumps({"Version": "2012-10-17"}), Kind.IDENTITY, Malformed)


def test_a_single_statement_object_and_its_text_are_kept() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": ALLOW})
    doc = parse(text, Kind.IDENTITY, Malformed)
    assert len(doc.statements) == 1 and doc.text == text and doc.version == "2012-10-17"
