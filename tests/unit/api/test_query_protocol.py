"""The query protocol (IAM, STS) against the real models: botocore's own serializer makes the
forms, and the XML is checked as the query protocol's clients parse it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import botocore.serialize
import botocore.session
import pytest

from shoal.api import query_protocol
from shoal.api.model import load_model
from shoal.errors import AwsError

IAM = load_model("iam")
SESSION = botocore.session.get_session()


def _form(operation: str, params: dict[str, Any]) -> dict[str, str]:
    """The form botocore's QuerySerializer sends for ``params``."""
    model = SESSION.get_service_model("iam")
    serializer = botocore.serialize.create_serializer("query")
    request = serializer.serialize_to_request(params, model.operation_model(operation))
    body = request["body"]  # a dict, url-encoded by the HTTP layer: encode and decode it
    return dict(parse_qsl(urlencode(body), keep_blank_values=True))


def _parse(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    op = IAM.operations[operation]
    return query_protocol.parse_input(IAM, op.input, _form(operation, params))


def test_lists_of_structures_round_trip() -> None:
    params = {
        "UserName": "a",
        "Path": "/x/",
        "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k2", "Value": ""}],
    }
    assert _parse("CreateUser", params) == params


def test_scalars_and_lists_of_strings() -> None:
    params = {"RoleName": "r", "TagKeys": ["a", "b"]}
    assert _parse("UntagRole", params) == params
    assert _parse("ListPolicies", {"OnlyAttached": True, "MaxItems": 5}) == {
        "OnlyAttached": True,
        "MaxItems": 5,
    }


@pytest.mark.parametrize(("operation", "form", "message"), [
    ("CreateUser", {}, "Value null at 'userName' failed to satisfy constraint: Member must not "
     "be null"),
    ("ListUsers", {"MaxItems": "0"}, "Value '0' at 'maxItems' failed to satisfy constraint: "
     "Member must have value greater than or equal to 1"),
    ("ListUsers", {"MaxItems": "lots"}, "Value 'lots' at 'maxItems' failed to satisfy "
     "constraint: Member must be of type integer"),
    ("ListPolicies", {"Scope": "Mine"}, "Value 'Mine' at 'scope' failed to satisfy constraint: "
     "Member must satisfy enum value set: ['All', 'AWS', 'Local']"),
])  # fmt: skip
def test_validation_errors(operation: str, form: dict[str, str], message: str) -> None:
    with pytest.raises(AwsError) as e:
        query_protocol.parse_input(IAM, IAM.operations[operation].input, form)
    assert e.value.code == "ValidationError"
    assert e.value.message == "1 validation error detected: " + message


def test_output_wrapped_and_namespaced() -> None:
    op = IAM.operations["ListUsers"]
    user = {"Path": "/", "UserName": "a&b", "UserId": "AIDA", "Arn": "arn", "CreateDate": 0}
    body = query_protocol.serialize_output(
        IAM, "ListUsers", op.output, {"Users": [user], "IsTruncated": False}, "rid"
    ).body
    assert body.decode().split("\n", 1)[1] == (
        '<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult>'
        "<Users><member><Path>/</Path><UserName>a&amp;b</UserName><UserId>AIDA</UserId>"
        "<Arn>arn</Arn><CreateDate>1970-01-01T00:00:00.000Z</CreateDate></member></Users>"
        "<IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>rid"
        "</RequestId></ResponseMetadata></ListUsersResponse>"
    )
    empty = query_protocol.serialize_output(IAM, "DeleteUser", None, None, "rid").body.decode()
    assert "<DeleteUserResponse" in empty and "Result" not in empty


def test_error_status_from_the_model() -> None:
    response = query_protocol.serialize_error(AwsError("NoSuchEntity", "gone"), "rid", IAM)
    assert response.status == 404
    assert response.body.decode().split("\n", 1)[1] == (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender'
        "</Type><Code>NoSuchEntity</Code><Message>gone</Message></Error><RequestId>rid"
        "</RequestId></ErrorResponse>"
    )
    assert query_protocol.serialize_error(AwsError("Weird", "x"), "r", IAM).status == 400
