"""Function names, partial ARNs, ARNs and qualifiers, parsed as Lambda accepts them."""

from __future__ import annotations

import pytest

from shoal.errors import AwsError
from shoal.functions import arns

ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"


@pytest.mark.parametrize(
    ("text", "name", "qualifier", "region", "account"),
    [
        ("my-fn", "my-fn", None, None, None),
        ("my-fn:live", "my-fn", "live", None, None),
        ("my-fn:$LATEST", "my-fn", "$LATEST", None, None),
        ("my-fn:7", "my-fn", "7", None, None),
        ("123456789012:function:my-fn", "my-fn", None, None, "123456789012"),
        ("123456789012:function:my-fn:3", "my-fn", "3", None, "123456789012"),
        (ARN, "my-fn", None, "us-east-1", "123456789012"),
        (ARN + ":prod", "my-fn", "prod", "us-east-1", "123456789012"),
        (
            "arn:aws:lambda:us-gov-west-1:123456789012:function:f",
            "f",
            None,
            "us-gov-west-1",
            "123456789012",
        ),
    ],
)
def test_parse_accepts_every_spelling(text, name, qualifier, region, account) -> None:
    ref = arns.parse(text)
    assert (ref.name, ref.qualifier, ref.region, ref.account) == (name, qualifier, region, account)


@pytest.mark.parametrize("text", ["", "my fn", "a:b:c:d", "arn:aws:s3:::bucket", "fn:$NOPE"])
def test_parse_refuses_what_is_no_function_name(text: str) -> None:
    with pytest.raises(AwsError) as e:
        arns.parse(text)
    assert e.value.code == "ValidationException"
    assert "functionName" in e.value.message


def test_qualifiers_merge_when_equal_or_one_sided() -> None:
    assert arns.merge_qualifier(arns.parse("f:1"), None) == "1"
    assert arns.merge_qualifier(arns.parse("f"), "live") == "live"
    assert arns.merge_qualifier(arns.parse("f:1"), "1") == "1"
    assert arns.merge_qualifier(arns.parse("f"), None) is None


def test_conflicting_qualifiers_are_refused_as_lambda_words_it() -> None:
    with pytest.raises(AwsError) as e:
        arns.merge_qualifier(arns.parse(ARN + ":1"), "2")
    assert e.value.code == "InvalidParameterValueException"
    assert e.value.message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )


def test_other_region_or_account_is_refused() -> None:
    arns.check_location(arns.parse(ARN), "us-east-1", "123456789012")
    with pytest.raises(AwsError) as e:
        arns.check_location(
            arns.parse(ARN.replace("us-east-1", "eu-west-1")), "us-east-1", "123456789012"
        )
    assert e.value.code == "ResourceNotFoundException"
    assert "eu-west-1" in e.value.message
    with pytest.raises(AwsError) as e:
        arns.check_location(arns.parse("999999999999:function:f"), "us-east-1", "123456789012")
    assert e.value.code == "AccessDeniedException"


def test_new_names_are_limited_to_64_plain_characters() -> None:
    arns.check_new_name("a" * 64)
    for bad in ("a" * 65, "f:1", "with.dot"):
        with pytest.raises(AwsError) as e:
            arns.check_new_name(bad)
        assert e.value.code == "ValidationException"


def test_arn_building_and_qualifier_kinds() -> None:
    assert arns.function_arn("us-east-1", "123456789012", "my-fn") == ARN
    assert arns.function_arn("us-east-1", "123456789012", "my-fn", "2") == ARN + ":2"
    assert arns.is_version("$LATEST") and arns.is_version("12")
    assert not arns.is_version("live")
    assert arns.is_alias_name("live") and arns.is_alias_name("v1")
    assert not arns.is_alias_name("12")


def test_unqualified_references_and_keys_from_before_regions() -> None:
    from shoal.functions.arns import in_default_region, is_unqualified

    for ref in ("f", "123456789012:function:f", "arn:aws:lambda:eu-west-1:123456789012:function:f"):
        assert is_unqualified(ref), ref
    for ref in ("f:1", "123456789012:function:f:live", "arn:aws:lambda:eu-west-1:1:function:f:1"):
        assert not is_unqualified(ref), ref
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert in_default_region("f", "us-east-1", "123456789012") == arn
    assert in_default_region("f:live", "us-east-1", "123456789012") == f"{arn}:live"
    other = "arn:aws:lambda:eu-west-1:123456789012:function:f"
    assert in_default_region(other, "us-east-1", "123456789012") == other
