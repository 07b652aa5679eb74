"""Lambda resource-based policies (AddPermission, RemovePermission, GetPolicy), as stored
documents with the statement shapes Lambda returns.

A function's policy is a resource-based policy of the one engine (:mod:`shoal.policy`): the API
authorizes a signed call on a function with it and the caller's identity policies together, as
IAM does within one account (``shoal.api.lambda_permissions`` hands it over, through
:meth:`PermissionService.document`), and a function URL with ``AuthType AWS_IAM`` authorizes
``lambda:InvokeFunctionUrl`` the same way (:mod:`shoal.gateway.url_auth`). So a statement
naming a user or role ARN lets that principal invoke without an identity policy; one naming the
account (``Principal`` ``123456789012``) delegates to the account's identity policies. Service
principals (``apigateway.amazonaws.com``, ``s3.amazonaws.com``) are kept and shown for
deployment tools, which write a permission for every trigger and read it back on every refresh;
Shoal's own triggers invoke as the service itself (see ``shoal.gateway.service``).

The policy of ``NAME:QUALIFIER`` applies to calls on that qualified ARN and the unqualified
function's to calls on the unqualified ARN, as each statement's ``Resource`` says.

One policy per function and qualifier (``NAME`` for the unqualified function, ``NAME:QUALIFIER``
otherwise), persisted (kind ``lambdapolicy``) before it changes in memory, dropped with its
function. Event loop only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, conflict, not_found
from shoal.functions import arns
from shoal.functions.record import check_revision

if TYPE_CHECKING:
    from shoal.core import Shoal

_ACCOUNT = re.compile(r"^\d{12}$")
_CONDITIONS = (  # input member -> (operator, condition key), in the order Lambda writes them
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
)


def _principal(principal: str) -> Any:
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def statement(resource: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """AddPermission's input as the policy statement Lambda writes."""
    out: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    condition: dict[str, dict[str, Any]] = {}
    for member, operator, key in _CONDITIONS:
        if params.get(member):
            condition.setdefault(operator, {})[key] = params[member]
    if params.get("InvokedViaFunctionUrl"):
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if condition:
        out["Condition"] = condition
    return out


class PermissionService:
    KIND = "lambdapolicy"

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.store = shoal.store
        # The policy's resource, "FUNCTION_ARN" or "FUNCTION_ARN:QUALIFIER" (functions are per
        # region) -> {"statements": [...], "revision": "..."}. A policy saved before regions is
        # keyed "NAME[:QUALIFIER]": the default region's function; it is re-keyed here.
        self._policies: dict[str, dict[str, Any]] = {}
        # The same key -> its policy document as GetPolicy shows it, made on first ask (every
        # signed call on the function asks) and dropped with each change of that policy.
        self._documents: dict[str, str] = {}
        settings = shoal.settings
        for key, doc in self.store.load(self.KIND).items():
            resource = arns.in_default_region(key, settings.region, settings.account_id)
            if resource != key:
                with self.store.transaction():
                    self.store.put(self.KIND, resource, doc)
                    self.store.delete(self.KIND, key)
            self._policies[resource] = doc

    async def start(self) -> None:
        functions = getattr(self.shoal, "functions", None)
        if functions is not None:
            functions.subscribe(self._function_changed)
            for key in list(self._policies):
                self._function_changed(":".join(key.split(":")[:7]))  # its unqualified ARN

    async def stop(self) -> None:
        pass

    def _target(self, function: str, qualifier: str | None) -> tuple[str, str]:
        """(policy key, resource ARN); ResourceNotFoundException for an unknown target."""
        fv = self.shoal.functions.resolve(function, qualifier)
        arn = fv.function_arn if qualifier is None else f"{fv.function_arn}:{qualifier}"
        return arn, arn

    def add(self, params: Mapping[str, Any]) -> dict[str, Any]:
        key, arn = self._target(params["FunctionName"], params.get("Qualifier"))
        policy = self._policies.get(key, {"statements": [], "revision": ""})
        check_revision(params.get("RevisionId"), policy["revision"])
        if any(s["Sid"] == params["StatementId"] for s in policy["statements"]):
            raise conflict(
                f"The statement id ({params['StatementId']}) provided already exists. Please "
                "provide a new statement id, or remove the existing statement."
            )
        new = statement(arn, params)
        self._save(key, [*policy["statements"], new])
        return new

    def remove(self, function: str, sid: str, qualifier: str | None,
               revision_id: str | None) -> None:  # fmt: skip
        key, _ = self._target(function, qualifier)
        policy = self._policies.get(key)
        if policy is None:
            raise not_found("No policy is associated with the given resource.")
        check_revision(revision_id, policy["revision"])
        kept = [s for s in policy["statements"] if s["Sid"] != sid]
        if len(kept) == len(policy["statements"]):
            raise not_found(f"Statement {sid} is not found in resource policy.")
        self._save(key, kept)

    def get(self, function: str, qualifier: str | None) -> tuple[str, str]:
        """(policy document, revision id)."""
        key, _ = self._target(function, qualifier)
        document = self.document(key)
        if document is None:
            raise not_found("The resource you requested does not exist.")
        return document, self._policies[key]["revision"]

    def document(self, resource: str) -> str | None:
        """The policy document of ``resource`` (a function ARN, qualified or not), or None;
        what authorizing a call on that resource evaluates (no look-up of the function)."""
        found = self._documents.get(resource)
        if found is not None:
            return found
        policy = self._policies.get(resource)
        if policy is None:
            return None
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["statements"]}
        found = self._documents[resource] = json.dumps(document, separators=(",", ":"))
        return found

    def _save(self, key: str, statements: list[dict[str, Any]]) -> None:
        self._documents.pop(key, None)
        if not statements:
            self.store.delete(self.KIND, key)
            self._policies.pop(key, None)
            return
        policy = {"statements": statements, "revision": str(uuid.uuid4())}
        self.store.put(self.KIND, key, policy)
        self._policies[key] = policy

    def _function_changed(self, function_arn: str) -> None:
        functions = self.shoal.functions
        fn = functions.get(function_arn)
        mine = [k for k in self._policies if k == function_arn or k.startswith(function_arn + ":")]
        for key in mine:
            qualifier = key[len(function_arn) + 1 :]
            gone = fn is None
            if not gone and qualifier:
                try:
                    functions.resolve(function_arn, qualifier)
                except AwsError:
                    gone = True  # its version or alias was deleted
            if gone:
                self.store.delete(self.KIND, key)
                del self._policies[key]
                self._documents.pop(key, None)
