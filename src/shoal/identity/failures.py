"""An authentication failure (:class:`shoal.identity.sigv4.AuthFailure`) as each protocol's
services word it: the error code and HTTP status their clients parse.

rest-json services (Lambda, EFS, API Gateway) answer 403; json and smithy-rpc-v2-cbor services
(CloudWatch Logs, KMS, DynamoDB) the same codes with 400, as AWS's front end does for them
(``{"__type":"UnrecognizedClientException","message":"The security token included in the
request is invalid."}``). The ``query`` services (IAM, STS) and EC2 have codes of their own;
a json or cbor service whose model is ``awsQueryCompatible`` (CloudWatch, SQS) answers with the
``query`` codes, which its clients read from ``x-amzn-query-error``.
"""

from __future__ import annotations

from shoal.errors import AwsError
from shoal.identity.sigv4 import AuthFailure

# kind -> (code, status) per protocol family.
_REST = {
    "missing": ("MissingAuthenticationTokenException", 403),
    "incomplete": ("IncompleteSignatureException", 403),
    "unknown": ("UnrecognizedClientException", 403),
    "signature": ("InvalidSignatureException", 403),
    "expired": ("InvalidSignatureException", 403),
    "token_expired": ("ExpiredTokenException", 403),
    "token_invalid": ("UnrecognizedClientException", 403),
}
_JSON = {kind: (code, 400) for kind, (code, _) in _REST.items()}
_QUERY = {
    "missing": ("MissingAuthenticationToken", 403),
    "incomplete": ("IncompleteSignature", 403),
    "unknown": ("InvalidClientTokenId", 403),
    "signature": ("SignatureDoesNotMatch", 403),
    "expired": ("SignatureDoesNotMatch", 403),
    "token_expired": ("ExpiredToken", 403),
    "token_invalid": ("InvalidClientTokenId", 403),
}
_EC2 = {
    "missing": ("MissingAuthenticationToken", 401),
    "incomplete": ("IncompleteSignature", 400),
    "unknown": ("AuthFailure", 401),
    "signature": ("SignatureDoesNotMatch", 403),
    "expired": ("RequestExpired", 400),
    "token_expired": ("RequestExpired", 400),
    "token_invalid": ("AuthFailure", 401),
}
_MESSAGES = {
    ("ec2", "unknown"): "AWS was not able to validate the provided access credentials",
    ("ec2", "token_invalid"): "AWS was not able to validate the provided access credentials",
    ("query", "missing"): "Request is missing Authentication Token",
    ("json", "missing"): "Request is missing Authentication Token",
}
_TABLES = {"rest": _REST, "json": _JSON, "query": _QUERY, "ec2": _EC2}


def as_error(failure: AuthFailure, protocol: str) -> AwsError:
    """``failure`` as the error of a service of ``protocol`` ("rest", "json" — cbor's too —,
    "query", "ec2")."""
    code, status = _TABLES[protocol][failure.kind]
    message = _MESSAGES.get((protocol, failure.kind), failure.message)
    return AwsError(code, message, status=status)


def wrong_service(signed: str, expected: str) -> AuthFailure:
    return AuthFailure(
        "signature", f"Credential should be scoped to correct service: '{expected}'. "
    )
