"""The functions the server has, and finding one: the records of :class:`FunctionService`.

State lives in memory (``_functions``: (region, function name) -> :class:`FunctionRecord`) and
is written through to the store, one document per function (kind ``function``, under its region
and name), so a restart reloads everything. The same name in two regions is two functions.

A function is named here by a FunctionName (name, partial or full ARN): a full ARN says its
region, a name or partial ARN means the server's default region. The API layer turns every
FunctionName into the ARN in the request's region (:mod:`shoal.api.lambda_scope`), and the other
services name a function by its unqualified ARN (``FunctionVersion.function_arn``).

A change is made on a copy (:meth:`FunctionRecord.draft`), then :meth:`FunctionCatalog._commit`
saves it and puts it in place: a write the store refuses (a full disk) changes nothing. What
changes a record is :mod:`shoal.functions.service`'s; this module reads, resolves (an alias's
routing, the configuration an update has not replaced yet: :meth:`resolve_for_invoke`) and
commits. Callbacks given to :meth:`subscribe` are called with the function's unqualified ARN
after every change, including deletion and state transitions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from shoal.errors import conflict, not_found
from shoal.functions import aliases as alias_rules  # not `aliases`: a method's name here
from shoal.functions import arns, publishing
from shoal.functions.models import LATEST, Alias, FunctionVersion
from shoal.functions.record import FunctionRecord

if TYPE_CHECKING:
    from shoal.core import Shoal

log = logging.getLogger("shoal.functions")
Key = tuple[str, str]  # (region, function name)


class FunctionCatalog:
    KIND = "function"

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        self._functions: dict[Key, FunctionRecord] = {}
        self._subscribers: list[Callable[[str], None]] = []

    # ------------------------------------------------------------------ reads (the invoker's)

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._subscribers.append(callback)

    def get(self, name_or_arn: str) -> FunctionVersion | None:
        """The function's $LATEST, or None if there is no such function."""
        fn = self._functions.get(self._key(arns.parse(name_or_arn)))
        return fn.latest if fn else None

    def all_versions(self, region: str | None = None) -> list[FunctionVersion]:
        """Every version of every function (of ``region``, when given)."""
        out: list[FunctionVersion] = []
        for (r, _), fn in self._functions.items():
            if region is None or r == region:
                out.append(fn.latest)
                out.extend(fn.versions.values())
        return out

    def names(self, region: str | None = None) -> list[str]:
        """The unqualified ARNs of the functions (of ``region``, when given), by name."""
        keys = sorted(k for k in self._functions if region is None or k[0] == region)
        return [self._functions[k].latest.function_arn for k in sorted(keys, key=lambda k: k[1])]

    def resolve(self, name_or_arn: str, qualifier: str | None = None) -> FunctionVersion:
        """The version a FunctionName (name, ARN or partial ARN) and Qualifier designate.

        An alias resolves to its primary version. Raises ResourceNotFoundException worded as
        Lambda, or InvalidParameterValueException for conflicting qualifiers.
        """
        fn, q = self._lookup(name_or_arn, qualifier)
        if q is None or q == LATEST:
            return fn.latest
        if q in fn.versions:
            return fn.versions[q]
        alias = fn.aliases.get(q)
        if alias is None:
            raise not_found(f"Function not found: {fn.latest.function_arn}:{q}")
        return fn.version(alias.function_version)

    def resolve_for_invoke(self, name_or_arn: str, qualifier: str | None = None) -> FunctionVersion:
        """What an invocation runs: like :meth:`resolve`, but follows an alias's weighted
        routing, refuses a function that is not Active, and during an update returns the
        configuration from before it."""
        fn, q = self._lookup(name_or_arn, qualifier)
        alias = fn.aliases.get(q) if q else None
        if alias is not None:
            fv = fn.version(alias_rules.pick(alias))
        else:
            fv = self.resolve(name_or_arn, qualifier)
        if fv.version == LATEST and fv.last_update_status != "Successful" and fn.previous:
            return fn.previous
        if fv.state != "Active":
            raise conflict(
                "The operation cannot be performed at this time. The function is currently in "
                f"the following state: {fv.state}"
            )
        return fv

    def function(self, name_or_arn: str) -> tuple[str, FunctionRecord]:
        """The unqualified ARN and the record of an unqualified function reference."""
        fn, _ = self._lookup(name_or_arn, None)
        return fn.latest.function_arn, fn

    def _function(self, name_or_arn: str) -> tuple[Key, FunctionRecord]:
        fn, _ = self._lookup(name_or_arn, None)
        return key_of(fn), fn

    def versions(self, name_or_arn: str) -> list[FunctionVersion]:
        """$LATEST then the published versions in order, as ListVersionsByFunction lists them."""
        return publishing.ordered(self.function(name_or_arn)[1])

    def aliases(self, name_or_arn: str) -> list[Alias]:
        _, fn = self.function(name_or_arn)
        return sorted(fn.aliases.values(), key=lambda a: a.name)

    def alias(self, name_or_arn: str, alias: str) -> Alias:
        return alias_rules.get(self.function(name_or_arn)[1], alias)

    def _key(self, ref: arns.FunctionRef) -> Key:
        """Where a reference points: its ARN's region (the default one for a name), refusing
        another account."""
        region = ref.region or self.settings.region
        arns.check_location(ref, region, self.settings.account_id)
        return region, ref.name

    def _lookup(self, name_or_arn: str, qualifier: str | None) -> tuple[FunctionRecord, str | None]:
        ref = arns.parse(name_or_arn)
        key = self._key(ref)
        q = arns.merge_qualifier(ref, qualifier)
        fn = self._functions.get(key)
        if fn is None:
            raise not_found(f"Function not found: {self._arn(key, q)}")
        return fn, q

    def _arn(self, key: Key, qualifier: str | None = None) -> str:
        region, name = key
        return arns.function_arn(region, self.settings.account_id, name, qualifier)

    # ------------------------------------------------------------------ changes

    def _commit(self, key: Key, fn: FunctionRecord) -> None:
        """Save ``fn`` (a draft), then make it the function's record and tell subscribers.
        A store error leaves the record in place untouched."""
        region, name = key
        self.shoal.store.put(self.KIND, name, fn.to_doc(), region)
        self._functions[key] = fn
        self._notify(fn.latest.function_arn)

    def _notify(self, function_arn: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(function_arn)
            except Exception:
                log.exception("function change subscriber failed for %s", function_arn)


def key_of(fn: FunctionRecord) -> Key:
    return fn.latest.region, fn.latest.name
