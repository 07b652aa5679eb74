"""Lambda layers: versioned .zip packages that functions see, merged, at ``/opt``.

State: ``_layers`` maps (region, layer name) to its :class:`LayerRecord` (its live versions and
the next version number, which never goes back: a deleted version's number is not reused, as on
Lambda): a layer is its region's, and every public method takes the region of the request. Each
record is one store document (kind ``layer``, under its region), written before memory changes,
so a failed write changes nothing and a restart reloads everything. Packages are kept like
function code (:class:`shoal.functions.code.CodeStore`, the same checks: zip slip, symlinks,
size) under ``<data>/layers/``, unpacked at publish; :mod:`shoal.functions.optdirs` merges a
function's layers into the directory mounted at ``/opt``. Mutations run on the event loop with
no ``await`` between their checks and their changes.

The function service asks :meth:`LayerService.for_function` to turn a function's ``Layers``
(version ARNs) into :class:`shoal.functions.models.LayerRef` values, refused as Lambda refuses
them (more than 5, another region, two versions of one layer, an unknown version, over 250 MB
unzipped with the function's code).
"""

from __future__ import annotations

import asyncio
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.errors import AwsError, invalid_parameter
from shoal.functions import layer_policy, optdirs
from shoal.functions.code import MAX_UNZIPPED, CodeStore, InvalidZip
from shoal.functions.models import LayerRef
from shoal.functions.optdirs import OptDirs, tree_size
from shoal.functions.record import now_iso

if TYPE_CHECKING:
    from shoal.core import Shoal

MAX_LAYERS = 5
_LAYER_ARN = re.compile(
    r"^arn:[a-zA-Z0-9-]+:lambda:(?P<region>[a-zA-Z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?$"
)


@dataclass(frozen=True)
class LayerVersion:
    name: str
    version: int
    layer_arn: str  # arn:aws:lambda:REGION:ACCOUNT:layer:NAME
    created_date: str
    code_sha256: str
    code_size: int
    hex: str  # the package in the layer store
    unzipped_size: int  # measured after unpacking
    description: str = ""
    license_info: str | None = None
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    statements: tuple[Mapping[str, Any], ...] = ()
    policy_revision: str = ""

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def to_doc(self) -> dict[str, Any]:
        doc = {k: getattr(self, k) for k in self.__dataclass_fields__}
        doc["statements"] = [dict(s) for s in self.statements]
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LayerVersion:
        d = dict(doc)
        for k in ("compatible_runtimes", "compatible_architectures", "statements"):
            d[k] = tuple(d.get(k, ()))
        return cls(**d)


@dataclass
class LayerRecord:
    versions: dict[int, LayerVersion] = field(default_factory=dict)
    next_version: int = 1

    def to_doc(self) -> dict[str, Any]:
        return {
            "versions": [v.to_doc() for v in self.versions.values()],
            "next_version": self.next_version,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LayerRecord:
        versions = [LayerVersion.from_doc(v) for v in doc.get("versions", ())]
        return cls({v.version: v for v in versions}, int(doc.get("next_version", 1)))


Key = tuple[str, str]  # (region, layer name)


def version_missing(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Layer version {arn} does not exist.")


def resource_missing() -> AwsError:
    return AwsError("ResourceNotFoundException", "The resource you requested does not exist.")


def check_version_number(number: int) -> None:
    if number < 1:
        raise invalid_parameter("Layer Version Cannot be less than 1")


def declared_size(zip_path: Path) -> int:
    """A stored package's unzipped size as its central directory declares it (unpacking
    refuses a package whose real size is over the quota, whatever it declares)."""
    with zipfile.ZipFile(zip_path) as zf:
        return sum(i.file_size for i in zf.infolist())


class LayerService:
    KIND = "layer"

    def __init__(self, shoal: Shoal) -> None:
        self.shoal = shoal
        self.settings = shoal.settings
        root = shoal.settings.data_dir / "layers"
        self.code = CodeStore(root / "packages")
        self.opt = OptDirs(root / "opt")
        self._layers: dict[Key, LayerRecord] = {}
        shoal.http.mount("/shoal/layers/", self.code.download_app())

    async def start(self) -> None:
        store = self.shoal.store
        store.claim(self.KIND, self.settings.region)  # made before regions: the default's
        for key, doc in store.load_regional(self.KIND).items():
            self._layers[key] = LayerRecord.from_doc(doc)

    async def stop(self) -> None:
        pass

    # ------------------------------------------------------------------ names and ARNs

    def layer_arn(self, key: Key) -> str:
        region, name = key
        return f"arn:aws:lambda:{region}:{self.settings.account_id}:layer:{name}"

    def name_of(self, region: str, layer_name: str) -> Key:
        """A LayerName member (a name or a layer ARN) of a request in ``region`` as the key of
        a layer there; another region's or account's layer is one that does not exist here
        (its name is then "")."""
        m = _LAYER_ARN.match(layer_name)
        if m is None:
            return region, layer_name
        if m.group("region") != region or m.group("account") != self.settings.account_id:
            return region, ""
        return region, m.group("name")

    # ------------------------------------------------------------------ reads

    def get(self, region: str, layer_name: str, number: int) -> LayerVersion:
        check_version_number(number)
        record = self._layers.get(self.name_of(region, layer_name))
        found = record.versions.get(number) if record else None
        if found is None:
            raise resource_missing()
        return found

    def get_by_arn(self, region: str, arn: str) -> LayerVersion:
        m = _LAYER_ARN.match(arn)
        if m is None or m.group("version") is None:
            raise resource_missing()
        return self.get(region, arn.rsplit(":", 1)[0], int(m.group("version")))

    def versions(
        self,
        region: str,
        layer_name: str,
        runtime: str | None = None,
        architecture: str | None = None,
    ) -> list[LayerVersion]:
        """Newest first, those compatible with ``runtime`` and ``architecture`` when given."""
        record = self._layers.get(self.name_of(region, layer_name))
        if record is None:
            return []
        return [
            v
            for _, v in sorted(record.versions.items(), reverse=True)
            if (runtime is None or runtime in v.compatible_runtimes)
            and (architecture is None or architecture in v.compatible_architectures)
        ]

    def latest(
        self, region: str, runtime: str | None = None, architecture: str | None = None
    ) -> list[LayerVersion]:
        """ListLayers: each of the region's layers' newest matching version, by layer name."""
        out = []
        for name in sorted(name for r, name in self._layers if r == region):
            matching = self.versions(region, name, runtime, architecture)
            if matching:
                out.append(matching[0])
        return out

    # ------------------------------------------------------------------ publish and delete

    async def publish(self, region: str, params: Mapping[str, Any]) -> LayerVersion:
        key = self.name_of(region, params["LayerName"])
        name = key[1]
        if not name:
            raise invalid_parameter(
                f"Layers can only be published in this region and account: {params['LayerName']}"
            )
        content = params["Content"]
        if "ZipFile" not in content:
            raise invalid_parameter(
                "Shoal accepts layer content only as a .zip file (Content.ZipFile); S3 "
                "locations are not supported."
            )
        try:
            package = await asyncio.to_thread(self.code.save, content["ZipFile"])
            tree = await asyncio.to_thread(self.code.unpack, package.hex)
        except InvalidZip as e:
            raise invalid_parameter(str(e)) from None
        size = await asyncio.to_thread(tree_size, tree)
        record = self._layers.get(key) or LayerRecord()
        version = LayerVersion(
            name=name,
            version=record.next_version,
            layer_arn=self.layer_arn(key),
            created_date=now_iso(),
            code_sha256=package.sha256,
            code_size=package.size,
            hex=package.hex,
            unzipped_size=size,
            description=params.get("Description") or "",
            license_info=params.get("LicenseInfo"),
            compatible_runtimes=tuple(params.get("CompatibleRuntimes") or ()),
            compatible_architectures=tuple(params.get("CompatibleArchitectures") or ()),
        )
        updated = LayerRecord({**record.versions, version.version: version}, version.version + 1)
        self._commit(key, updated)
        return version

    def delete(self, region: str, layer_name: str, number: int) -> None:
        """Idempotent, as Lambda's: deleting what does not exist succeeds. Functions that use
        the version keep it (their /opt is already made)."""
        check_version_number(number)
        key = self.name_of(region, layer_name)
        record = self._layers.get(key)
        if record is None or number not in record.versions:
            return
        gone = record.versions[number]
        versions = {n: v for n, v in record.versions.items() if n != number}
        self._commit(key, LayerRecord(versions, record.next_version))
        if not self._in_use(gone.hex):
            self.code.remove(gone.hex)

    def _in_use(self, hexdigest: str) -> bool:
        """Whether a layer version or a function version still has this package (a function
        keeps a deleted layer version; its /opt may have to be made again)."""
        if any(v.hex == hexdigest for r in self._layers.values() for v in r.versions.values()):
            return True
        functions = getattr(self.shoal, "functions", None)
        versions = functions.all_versions() if functions is not None else []
        return any(ref.hex == hexdigest for fv in versions for ref in fv.layers)

    def _commit(self, key: Key, record: LayerRecord) -> None:
        region, name = key
        # First: a failure changes nothing.
        self.shoal.store.put(self.KIND, name, record.to_doc(), region)
        self._layers[key] = record

    # ------------------------------------------------------------------ permissions

    def _for_policy(self, region: str, layer_name: str, number: int) -> LayerVersion:
        check_version_number(number)
        key = self.name_of(region, layer_name)
        record = self._layers.get(key)
        found = record.versions.get(number) if record else None
        if found is None:
            raise version_missing(f"{self.layer_arn((region, key[1] or layer_name))}:{number}")
        return found

    def _set_statements(
        self, lv: LayerVersion, statements: tuple[Mapping[str, Any], ...]
    ) -> LayerVersion:
        new = replace(lv, statements=statements, policy_revision=str(uuid.uuid4()))
        key = (lv.layer_arn.split(":")[3], lv.name)
        record = self._layers[key]
        versions = {**record.versions, lv.version: new}
        self._commit(key, LayerRecord(versions, record.next_version))
        return new

    def add_permission(
        self, region: str, layer_name: str, number: int, params: Mapping[str, Any]
    ) -> tuple[str, str]:
        """AddLayerVersionPermission: (the statement as JSON, the policy's new RevisionId)."""
        lv = self._for_policy(region, layer_name, number)
        revision = params.get("RevisionId")
        if revision and revision != lv.policy_revision:
            raise layer_policy.precondition_failed()
        new = layer_policy.statement(
            params["StatementId"], params["Principal"], lv.arn, params.get("OrganizationId")
        )
        lv = self._set_statements(lv, layer_policy.add(lv.statements, new))
        return layer_policy.render(new), lv.policy_revision

    def remove_permission(
        self, region: str, layer_name: str, number: int, sid: str, revision: str | None
    ) -> None:
        lv = self._for_policy(region, layer_name, number)
        if revision and revision != lv.policy_revision:
            raise layer_policy.precondition_failed()
        self._set_statements(lv, layer_policy.remove(lv.statements, sid))

    def policy(self, region: str, layer_name: str, number: int) -> tuple[str, str]:
        lv = self._for_policy(region, layer_name, number)
        return layer_policy.document(lv.statements), lv.policy_revision

    # ------------------------------------------------------------------ functions' layers

    async def for_function(
        self, region: str, arns: Sequence[str], code_unzipped: int
    ) -> tuple[LayerRef, ...]:
        """The ``Layers`` of a function of ``region`` resolved, checked and merged (its /opt
        made ahead)."""
        refs = self.resolve(region, arns)
        check_total(code_unzipped, refs)
        if refs:
            await asyncio.to_thread(self.opt_dir, refs)
        return refs

    def resolve(self, region: str, arns: Sequence[str]) -> tuple[LayerRef, ...]:
        if len(arns) > MAX_LAYERS:
            raise invalid_parameter(f"Cannot reference more than {MAX_LAYERS} layers.")
        seen: dict[str, str] = {}
        refs = []
        for arn in arns:
            m = _LAYER_ARN.match(arn)
            if m is None or m.group("version") is None:
                raise invalid_parameter(f"Layer version {arn} does not exist.")
            if m.group("region") != region:
                raise invalid_parameter(
                    "Layers are not in the same region as the function. Layers are expected "
                    f"to be in region {region}."
                )
            layer = arn.rsplit(":", 1)[0]
            if layer in seen:
                raise invalid_parameter(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {seen[layer]} and {arn} are versions of the same "
                    "layer."
                )
            seen[layer] = arn
            try:
                lv = self.get_by_arn(region, arn)
            except AwsError:
                raise invalid_parameter(f"Layer version {arn} does not exist.") from None
            refs.append(LayerRef(lv.arn, lv.code_size, lv.hex, lv.unzipped_size))
        return tuple(refs)

    def collect(self, used: Iterable[Sequence[LayerRef]]) -> tuple[list[str], list[str]]:
        """At start, once functions are loaded and before anything can publish: remove the
        packages that no layer version and no function version (``used``: their layer lists)
        references, left by an interrupted publish or by deleting the last user of a deleted
        version, and the merged /opt trees no function version's list makes. Returns both."""
        lists = [tuple(r.hex for r in refs) for refs in used if refs]
        keep = {v.hex for r in self._layers.values() for v in r.versions.values()}
        keep.update(h for hexes in lists for h in hexes)
        return self.code.collect(keep), self.opt.collect({optdirs.key(h) for h in lists})

    def opt_dir(self, refs: Sequence[LayerRef]) -> Path:
        """The merged /opt of a layer list (made again if it went missing)."""
        hexes = [r.hex for r in refs]
        path = self.opt.path(hexes)
        if path.is_dir():
            return path
        for r in refs:
            if not self.code.is_unpacked(r.hex):
                self.code.unpack(r.hex)  # the zip is kept while anything uses it
        return self.opt.ensure(hexes, [self.code.tree(h) for h in hexes])


def check_total(code_unzipped: int, refs: Sequence[LayerRef]) -> None:
    total = code_unzipped + sum(r.unzipped_size for r in refs)
    if refs and total > MAX_UNZIPPED:
        raise invalid_parameter(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{MAX_UNZIPPED} bytes. The actual size is {total} bytes."
        )
