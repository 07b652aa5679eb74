"""Policy documents: parsed and validated once, with their patterns compiled.

Three kinds, validated as IAM validates each (the IAM User Guide's "IAM JSON policy element
reference"):

* ``IDENTITY`` (attached to a user, group or role): no ``Principal``; ``Resource`` required.
* ``RESOURCE`` (an EFS file-system policy, a Lambda function policy): ``Principal`` required.
* ``TRUST`` (a role's trust policy): ``Principal`` required, no ``Resource``.

A malformed document raises the exception the caller's ``error`` factory makes from the message
(IAM answers ``MalformedPolicyDocument``, EFS ``InvalidPolicyException``, Lambda
``InvalidParameterValueException``), so the engine knows nothing of any service's wire.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shoal.policy.conditions import OPERATORS, Condition
from shoal.policy.patterns import Patterns

ErrorFactory = Callable[[str], Exception]
VERSIONS = ("2012-10-17", "2008-10-17")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


class Kind(enum.Enum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"


@dataclass(frozen=True)
class Principals:
    """``"*"`` (anyone) or, per principal type, the values given."""

    anyone: bool
    by_type: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Statement:
    sid: str | None
    allow: bool
    actions: Patterns | None
    not_actions: Patterns | None
    resources: Patterns | None
    not_resources: Patterns | None
    principals: Principals | None
    not_principals: Principals | None
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Policy:
    kind: Kind
    version: str | None
    statements: tuple[Statement, ...]
    text: str
    # action -> the statements whose Action/NotAction let it through (actions have no policy
    # variables, so this depends on the action alone): a request tries only those.
    by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        found = self.by_action.get(action)
        if found is None:
            found = tuple(
                st for st in self.statements
                if (st.actions is None or st.actions.match(action, _NO_KEYS))
                and (st.not_actions is None or not st.not_actions.match(action, _NO_KEYS))
            )  # fmt: skip
            if len(self.by_action) < _ACTIONS_KEPT:
                self.by_action[action] = found
        return found


_NO_KEYS: Mapping[str, Any] = {}
_ACTIONS_KEPT = 1024  # per policy: Shoal serves a few hundred actions


def parse(document: str | Mapping[str, Any], kind: Kind, error: ErrorFactory) -> Policy:
    """Parse, validate and compile ``document``; raise ``error(message)`` if it is malformed."""
    if isinstance(document, str):
        text = document
        try:
            doc = json.loads(document)
        except (ValueError, RecursionError):
            raise error("Syntax errors in policy.") from None
    else:
        doc, text = dict(document), json.dumps(document)
    if not isinstance(doc, dict):
        raise error("Syntax errors in policy.")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise error(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}")
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise error("The policy failed legacy parsing")
    if "Statement" not in doc:
        raise error("Missing required field Statement")
    raw = doc["Statement"]
    raw = raw if isinstance(raw, list) else [raw]
    variables = version == "2012-10-17"  # IAM substitutes variables only in this version
    statements = tuple(_statement(s, kind, error, variables) for s in raw)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise error("Statement IDs (SID) in a single policy must be unique.")
    return Policy(kind, version, statements, text)


_FIELDS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
           "NotPrincipal", "Condition"}  # fmt: skip


def _strings(value: Any, what: str, error: ErrorFactory) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise error(f"Syntax errors in policy. {what} must be a string or a list of strings")
    return tuple(values)


def _statement(st: Any, kind: Kind, error: ErrorFactory, variables: bool) -> Statement:
    if not isinstance(st, dict):
        raise error("Syntax errors in policy.")
    unknown = set(st) - _FIELDS
    if unknown:
        raise error(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}")
    if st.get("Effect") not in ("Allow", "Deny"):
        raise error("Syntax errors in policy. Effect must be Allow or Deny")
    if ("Action" in st) == ("NotAction" in st):
        raise error("Policy statement must contain actions.")
    has_principal = "Principal" in st or "NotPrincipal" in st
    if "Principal" in st and "NotPrincipal" in st:
        raise error("Syntax errors in policy. Principal and NotPrincipal together")
    if kind is Kind.IDENTITY and has_principal:
        raise error("Policy document should not specify a principal.")
    if kind is not Kind.IDENTITY and not has_principal:
        raise error("Missing required field Principal")
    if "Resource" in st and "NotResource" in st:
        raise error("Syntax errors in policy. Resource and NotResource together")
    has_resource = "Resource" in st or "NotResource" in st
    if kind is Kind.IDENTITY and not has_resource:
        raise error("Policy statement must contain resources.")
    if kind is Kind.TRUST and has_resource:
        raise error("Has prohibited field Resource")
    sid = st.get("Sid")
    if sid is not None and not (isinstance(sid, str) and re.fullmatch(r"[A-Za-z0-9 _-]*", sid)):
        raise error("Syntax errors in policy. Sid must be alphanumeric")

    def actions(key: str) -> Patterns | None:
        if key not in st:
            return None
        values = _strings(st[key], key, error)
        for a in values:
            if a != "*" and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", a):
                raise error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, "
                            "ec2, etc.")  # fmt: skip
        return Patterns.of(values, case=False, variables=False)

    def resources(key: str) -> Patterns | None:
        if key not in st:
            return None
        values = _strings(st[key], key, error)
        for r in values:
            if r != "*" and not r.startswith("arn:"):
                raise error(f'Resource {r} must be in ARN format or "*".')
        return Patterns.of(values, case=True, variables=variables)

    return Statement(
        sid=sid,
        allow=st["Effect"] == "Allow",
        actions=actions("Action"),
        not_actions=actions("NotAction"),
        resources=resources("Resource"),
        not_resources=resources("NotResource"),
        principals=_principals(st, "Principal", error),
        not_principals=_principals(st, "NotPrincipal", error),
        conditions=_conditions(st.get("Condition"), error, variables),
    )


def _principals(st: dict[str, Any], key: str, error: ErrorFactory) -> Principals | None:
    if key not in st:
        return None
    value = st[key]
    if value == "*":
        return Principals(anyone=True)
    if not isinstance(value, dict) or not value:
        raise error(f"Invalid principal in policy: {json.dumps(value)}")
    by_type = []
    for ptype, values in value.items():
        if ptype not in PRINCIPAL_TYPES:
            raise error(f'Invalid principal in policy: "{ptype}"')
        by_type.append((ptype, _strings(values, key, error)))
    return Principals(anyone=False, by_type=tuple(by_type))


def _conditions(block: Any, error: ErrorFactory, variables: bool) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise error("Syntax errors in policy. Condition must be an object")
    out = []
    for name, pairs in block.items():
        qualifier, _, operator = name.rpartition(":")
        if qualifier not in ("", "ForAllValues", "ForAnyValue"):
            raise error(f"Syntax errors in policy. Unknown set operator {qualifier}")
        if_exists = operator.endswith("IfExists") and operator != "Null"
        base = operator.removesuffix("IfExists")
        if base not in OPERATORS:
            raise error(f"Syntax errors in policy. Invalid Condition type : {operator}")
        if not isinstance(pairs, dict) or not pairs:
            raise error(f"Syntax errors in policy. Condition {name} must map keys to values")
        for key, values in pairs.items():
            vals = values if isinstance(values, list) else [values]
            if not vals or not all(isinstance(v, (str, bool, int, float)) for v in vals):
                raise error(f"Syntax errors in policy. Condition {name} values must be scalars")
            texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in vals)
            out.append(Condition(base, qualifier or None, if_exists, key.lower(), texts,
                                 variables and any("${" in t for t in texts)))  # fmt: skip
    return tuple(out)
