"""A function's execution role, checked where Lambda checks it: CreateFunction and
UpdateFunctionConfiguration (when it names a ``Role``).

Two checks, in Lambda's order. The caller must be allowed ``iam:PassRole`` on the role, with
``iam:PassedToService`` ``lambda.amazonaws.com`` (a signed IAM user or session; the root user
is not checked). Then the role must exist and its trust policy must let
``lambda.amazonaws.com`` ``sts:AssumeRole`` — decided by the one policy engine, as STS decides
an AssumeRole — or the call fails as Lambda words it.
"""

from __future__ import annotations

from shoal.api.dispatch import Call
from shoal.errors import AwsError
from shoal.identity.authorize import authorize_pass_role, is_root
from shoal.invocation.credentials import CANNOT_ASSUME, LAMBDA_SERVICE


def check_execution_role(call: Call) -> None:
    """Raise unless the call's ``Role`` (if it names one) may be passed to, and assumed by,
    Lambda."""
    role_arn = call.params.get("Role")
    if role_arn is None:
        return
    iam = call.shoal.iam
    principal = call.principal
    if principal is not None and not is_root(principal):
        authorize_pass_role(call, role_arn, iam.identity_policies(principal))
    name = str(call.params.get("FunctionName", ""))
    function_arn = name if name.startswith("arn:") else (
        f"arn:aws:lambda:{call.region}:{call.shoal.settings.account_id}:function:{name}"
    )  # fmt: skip
    if not iam.trusts(role_arn, LAMBDA_SERVICE, ":".join(function_arn.split(":")[:7])):
        raise AwsError("InvalidParameterValueException", CANNOT_ASSUME, 400)
