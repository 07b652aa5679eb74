"""The region of a request: from its credential scope, presigned or not; the default unsigned."""

from __future__ import annotations

from shoal.api.scope import credential_scope, is_region, request_region

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKID/20261203/eu-west-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)


def test_the_header_scope() -> None:
    scope = credential_scope({"authorization": AUTH}, {})
    assert scope is not None
    assert (scope.access_key, scope.date, scope.region, scope.service) == (
        "AKID", "20261203", "eu-west-1", "lambda",
    )  # fmt: skip
    assert request_region(scope, "us-east-1") == "eu-west-1"


def test_a_presigned_scope() -> None:
    form = {"X-Amz-Credential": "AKID/20261203/ap-southeast-2/execute-api/aws4_request"}
    scope = credential_scope({}, form)
    assert scope is not None and scope.region == "ap-southeast-2"
    assert scope.service == "execute-api"


def test_unsigned_is_the_default_region() -> None:
    assert credential_scope({}, {}) is None
    assert request_region(None, "us-west-2") == "us-west-2"


def test_a_scope_naming_no_region_is_refused() -> None:
    bad = AUTH.replace("eu-west-1", "nowhere")
    assert request_region(credential_scope({"authorization": bad}, {}), "us-east-1") is None
    for region in ("us-east-1", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "eu-central-2"):
        assert is_region(region), region
    for region in ("", "eu", "EU-WEST-1", "eu-west", "eu-west-1a", "../x-y-1"):
        assert not is_region(region), region
