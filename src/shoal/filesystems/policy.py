"""File-system policies: IAM JSON resource policies for the three EFS client actions.

A policy decides, for one principal (a function's execution role, or ``None`` for an anonymous
NFS client) reaching one file system through one access point, whether it may mount
(``elasticfilesystem:ClientMount``), write (``ClientWrite``) and act as root
(``ClientRootAccess``). Evaluation is IAM's: an explicit Deny wins, else an Allow grants, else
the action is denied. No policy at all grants everything, as on EFS. Shoal has no IAM identity
policies, so a file-system policy is the only source of an Allow.

Supported: ``Effect``; ``Principal``/``NotPrincipal`` (``*``, ``{"AWS": arn | account | [...]}``);
``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*``/``?`` wildcards; conditions
``String{Not}Equals``, ``String{Not}Like``, ``Arn{Not}Equals``, ``Arn{Not}Like``, ``Bool``
(each with ``IfExists``) on ``elasticfilesystem:AccessPointArn``, ``aws:SecureTransport``
(always true: Shoal's mounts never cross a network) and ``aws:PrincipalArn``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shoal.errors import AwsError

CLIENT_MOUNT = "elasticfilesystem:ClientMount"
CLIENT_WRITE = "elasticfilesystem:ClientWrite"
CLIENT_ROOT = "elasticfilesystem:ClientRootAccess"

_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool",
}  # fmt: skip
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Access:
    """What a principal may do through one access point."""

    mount: bool = True
    write: bool = True
    root: bool = True


FULL_ACCESS = Access()


def invalid(message: str) -> AwsError:
    return AwsError("InvalidPolicyException", message)


def parse(text: str) -> dict[str, Any]:
    """Parse and validate a policy document; raise ``InvalidPolicyException`` if malformed."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise invalid(f"Policy is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise invalid("Policy must be a JSON object")
    version = doc.get("Version")
    if version is not None and version not in ("2012-10-17", "2008-10-17"):
        raise invalid(f"Policy has an unsupported Version: {version}")
    if "Statement" not in doc:
        raise invalid("Policy is missing required field Statement")
    for statement in _statements(doc):
        _check_statement(statement)
    return doc


def _statements(doc: dict[str, Any]) -> list[Any]:
    statements = doc["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _strings(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _check_statement(statement: Any) -> None:
    if not isinstance(statement, dict):
        raise invalid("Each policy statement must be a JSON object")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise invalid("Policy statement Effect must be Allow or Deny")
    actions = [k for k in ("Action", "NotAction") if k in statement]
    if len(actions) != 1 or not _strings(statement[actions[0]]):
        raise invalid("Policy statement must have exactly one of Action or NotAction (strings)")
    if "Principal" in statement and "NotPrincipal" in statement:
        raise invalid("Policy statement cannot have both Principal and NotPrincipal")
    if "Principal" not in statement and "NotPrincipal" not in statement:
        raise invalid("A resource policy statement must have a Principal")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal != "*":
        if not isinstance(principal, dict) or not principal:
            raise invalid('Policy statement Principal must be "*" or {"AWS": ...}')
        for key, value in principal.items():
            if key not in ("AWS", "Service", "Federated", "CanonicalUser") or not _strings(value):
                raise invalid(f"Invalid principal in policy: {key}")
    for key in ("Resource", "NotResource"):
        if key in statement and not _strings(statement[key]):
            raise invalid(f"Policy statement {key} must be a string or a list of strings")
    condition = statement.get("Condition")
    if condition is not None:
        if not isinstance(condition, dict):
            raise invalid("Policy statement Condition must be a JSON object")
        for operator, block in condition.items():
            base = operator.removesuffix("IfExists")
            if base not in _OPERATORS:
                raise invalid(f"Policy has an unsupported condition operator: {operator}")
            if not isinstance(block, dict) or not all(
                _strings(v) or isinstance(v, bool) for v in block.values()
            ):
                raise invalid(f"Condition {operator} must map keys to strings")


def evaluate(
    doc: dict[str, Any] | None,
    *,
    principal: str | None,
    file_system_arn: str,
    access_point_arn: str | None,
) -> Access:
    """Decide the three client actions for ``principal`` (a role ARN, None = anonymous)."""
    if doc is None:
        return FULL_ACCESS
    context = {"aws:securetransport": "true"}
    if access_point_arn is not None:
        context["elasticfilesystem:accesspointarn"] = access_point_arn
    if principal is not None:
        context["aws:principalarn"] = principal

    def allowed(action: str) -> bool:
        verdict = False
        for st in _statements(doc):
            if not _applies(st, action, principal, file_system_arn, context):
                continue
            if st["Effect"] == "Deny":
                return False
            verdict = True
        return verdict

    return Access(allowed(CLIENT_MOUNT), allowed(CLIENT_WRITE), allowed(CLIENT_ROOT))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wild(pattern: str, value: str, *, case: bool = True) -> bool:
    # IAM wildcards: * and ? only (no [...] classes as fnmatch has).
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _applies(
    st: dict[str, Any], action: str, principal: str | None, resource: str, context: dict[str, str]
) -> bool:
    if "Action" in st:
        if not any(_wild(a, action, case=False) for a in _as_list(st["Action"])):
            return False
    elif any(_wild(a, action, case=False) for a in _as_list(st["NotAction"])):
        return False
    if "Principal" in st:
        if not _principal_matches(st["Principal"], principal):
            return False
    elif _principal_matches(st["NotPrincipal"], principal):
        return False
    if "Resource" in st and not any(_wild(r, resource) for r in _as_list(st["Resource"])):
        return False
    if "NotResource" in st and any(_wild(r, resource) for r in _as_list(st["NotResource"])):
        return False
    return all(
        _condition(op, key, values, context)
        for op, block in st.get("Condition", {}).items()
        for key, values in block.items()
    )


def _principal_matches(spec: Any, principal: str | None) -> bool:
    if spec == "*":
        return True
    for value in _as_list(spec.get("AWS", [])):
        if value == "*":
            return True
        if principal is None:
            continue
        if value == principal:
            return True
        account = principal.split(":")[4] if principal.count(":") >= 5 else ""
        if _ACCOUNT.match(value) and value == account:
            return True
        if value == f"arn:aws:iam::{account}:root":
            return True
    return False


def _condition(operator: str, key: str, values: Any, context: dict[str, str]) -> bool:
    base = operator.removesuffix("IfExists")
    actual = context.get(key.lower())
    negated = "Not" in base
    if actual is None:
        # IAM: a missing key satisfies only ...IfExists and the negated operators.
        return operator.endswith("IfExists") or negated
    wanted = [str(v).lower() if isinstance(v, bool) else v for v in _as_list(values)]
    if base == "Bool":
        return any(actual.lower() == str(w).lower() for w in wanted)
    if base.endswith("Like"):
        hit = any(_wild(w, actual) for w in wanted)
    elif "IgnoreCase" in base:
        hit = any(actual.lower() == w.lower() for w in wanted)
    else:
        hit = any(actual == w for w in wanted)
    return not hit if negated else hit


__all__ = ["Access", "FULL_ACCESS", "evaluate", "parse"]
