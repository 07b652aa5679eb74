"""The RPC routers' own answers — unknown targets, authentication failures, refusals, bodies too
large — read back by botocore's own parsers, for json and smithy-rpc-v2-cbor; and what the
routers find a request's service by."""

from __future__ import annotations

from typing import Any

import botocore.parsers
import pytest

from shoal.api.codec import HttpResponse
from shoal.api.rpc_router import RpcApiService, RpcRouter, cbor_router, json_router
from shoal.identity.sigv4 import AuthFailure

ROUTERS = [(json_router, "json"), (cbor_router, "smithy-rpc-v2-cbor")]
INVALID = "The security token included in the request is invalid."


def error(response: HttpResponse, protocol: str) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in response.headers}
    out: dict[str, Any] = botocore.parsers.create_parser(protocol).parse(
        {"status_code": response.status, "headers": headers, "body": response.body}, None
    )
    return out["Error"]


@pytest.mark.parametrize("router, protocol", ROUTERS)
@pytest.mark.parametrize(
    "kind, code",
    [
        ("missing", "MissingAuthenticationTokenException"),
        ("incomplete", "IncompleteSignatureException"),
        ("unknown", "UnrecognizedClientException"),
        ("signature", "InvalidSignatureException"),
        ("token_expired", "ExpiredTokenException"),
    ],
)
def test_an_auth_failure_for_no_served_service_is_worded_as_json_services_word_it(
    router: RpcRouter, protocol: str, kind: str, code: str
) -> None:
    response = router.auth_error(AuthFailure(kind, INVALID), None, "rid")
    assert response.status == 400
    assert error(response, protocol)["Code"] == code


@pytest.mark.parametrize("router, protocol", ROUTERS)
def test_the_routers_own_answers_parse_in_their_protocol(router: RpcRouter, protocol: str) -> None:
    err = error(router.refused("Cross-site request", "rid"), protocol)
    assert (err["Code"], err["Message"]) == ("AccessDeniedException", "Cross-site request")
    response = router.too_large()
    assert response.status == 413
    assert error(response, protocol)["Code"] == "RequestEntityTooLargeException"


def test_a_request_names_its_service_by_target_prefix() -> None:
    logs = RpcApiService("logs")
    try:
        target = {"x-amz-target": "Logs_20140328.DescribeLogGroups"}
        assert json_router.signing_name_for("/", target) == "logs"
        assert json_router.signing_name_for("/", {"x-amz-target": "Nobody.Op"}) is None
        # Logs has no cbor protocol in its model: the cbor router does not find it.
        path = "/service/Logs_20140328/operation/DescribeLogGroups"
        assert cbor_router.signing_name_for(path, {"smithy-protocol": "rpc-v2-cbor"}) is None
        assert logs.protocols == {"json"}
    finally:
        from shoal.api import rpc_router

        del rpc_router._REGISTRY["logs"]


def test_cloudwatch_is_served_in_both_rpc_protocols_and_signs_as_monitoring() -> None:
    cloudwatch = RpcApiService("cloudwatch")
    try:
        assert cloudwatch.protocols == {"json", "smithy-rpc-v2-cbor"}
        assert cloudwatch.signing_name == "monitoring" and cloudwatch.query_compatible
        path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
        assert cbor_router.signing_name_for(path, {"smithy-protocol": "rpc-v2-cbor"}) == (
            "monitoring"
        )
        # Without the smithy-protocol header the path is no cbor request.
        assert cbor_router.signing_name_for(path, {}) is None
        response = cbor_router.auth_error(AuthFailure("unknown", INVALID), "monitoring", "rid")
        assert response.status == 403
        err = error(response, "smithy-rpc-v2-cbor")
        assert (err["Code"], err["Message"]) == ("InvalidClientTokenId", INVALID)
    finally:
        from shoal.api import rpc_router

        del rpc_router._REGISTRY["cloudwatch"]


def test_an_operation_the_model_lacks_cannot_be_registered() -> None:
    kms = RpcApiService("kms")
    try:
        with pytest.raises(KeyError):
            kms.handles("NoSuchOperation")
    finally:
        from shoal.api import rpc_router

        del rpc_router._REGISTRY["kms"]
