"""The function service in-process: life cycle, what the invoker sees, subscriptions, reload."""

from __future__ import annotations

import asyncio
import io
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shoal.config import Settings
from shoal.errors import AwsError
from shoal.functions.layers import LayerService
from shoal.functions.service import FunctionService
from shoal.store.sqlite import Store

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ROLE = "arn:aws:iam::123456789012:role/r"


def package(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


class FakeShoal(SimpleNamespace):
    """Just what FunctionService uses: settings, store, http.mount, a sandbox with runtimes,
    and the layers (none: what starting collects)."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(data_dir=data_dir)
        super().__init__(
            settings=settings,
            store=Store(settings.db_path),
            http=SimpleNamespace(mount=lambda prefix, app: None),
            sandbox=SimpleNamespace(runtimes=lambda: {RUNTIME: sys.executable}),
        )
        self.layers = LayerService(self)  # type: ignore[arg-type]


def create_params(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Runtime": RUNTIME,
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": package("def handler(e, c):\n    return 1\n")},
        **extra,
    }


async def settled(service: FunctionService) -> None:
    while service._tasks:
        await asyncio.gather(*list(service._tasks))


def test_life_cycle_and_what_the_invoker_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        shoal = FakeShoal(tmp_path)
        service = FunctionService(shoal)  # type: ignore[arg-type]
        await service.start()
        changes: list[str] = []
        service.subscribe(changes.append)

        created = await service.create(create_params("f"))
        assert created.state == "Pending"
        with pytest.raises(AwsError) as e:  # not runnable until Active
            service.resolve_for_invoke("f")
        assert e.value.code == "ResourceConflictException"
        await settled(service)
        active = service.resolve_for_invoke("f")
        assert active.state == "Active"
        assert Path(active.code_dir, "app.py").is_file()

        updated = await service.update_code(
            {"FunctionName": "f", "ZipFile": package("def handler(e, c):\n    return 2\n")}
        )
        assert updated.last_update_status == "InProgress"
        # During the update the invoker keeps running the configuration from before it.
        assert service.resolve_for_invoke("f") == active
        assert service.resolve("f") == updated
        await settled(service)
        after = service.resolve_for_invoke("f")
        assert after.code_sha256 == updated.code_sha256
        assert after.last_update_status == "Successful"
        assert "return 2" in Path(after.code_dir, "app.py").read_text()

        service.delete("f", None)
        assert service.get("f") is None
        arn = "arn:aws:lambda:us-east-1:123456789012:function:f"  # subscribers get the ARN
        assert changes and set(changes) == {arn}
        assert changes.count(arn) >= 5  # create, active, update, settled, delete
        shoal.store.close()

    asyncio.run(scenario())


def test_alias_routing_is_followed_by_invocations_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        shoal = FakeShoal(tmp_path)
        service = FunctionService(shoal)  # type: ignore[arg-type]
        await service.start()
        await service.create(create_params("f", Publish=True))
        await settled(service)
        await service.update_configuration({"FunctionName": "f", "Timeout": 9})
        await settled(service)
        assert service.publish("f", None, None, None).version == "2"
        service.create_alias("f", "live", "1", None, {"2": 1.0})
        assert service.resolve("f", "live").version == "1"  # the primary, deterministically
        assert service.resolve_for_invoke("f", "live").version == "2"  # weight 1.0
        service.update_alias("f", "live", {"RoutingConfig": {"AdditionalVersionWeights": {}}})
        assert service.resolve_for_invoke("f:live").version == "1"
        shoal.store.close()

    asyncio.run(scenario())


def test_a_restart_reloads_and_finishes_interrupted_work(tmp_path: Path) -> None:
    async def first() -> str:
        shoal = FakeShoal(tmp_path)
        service = FunctionService(shoal)  # type: ignore[arg-type]
        await service.start()
        await service.create(create_params("f", Tags={"k": "v"}))
        # Stop before the package is unpacked: the function is persisted as Pending.
        await service.stop()
        shoal.store.close()
        return service.resolve("f").code_dir

    code_dir = asyncio.run(first())
    assert not Path(code_dir).exists()  # stopped before the unpack ran

    async def second() -> None:
        shoal = FakeShoal(tmp_path)
        service = FunctionService(shoal)  # type: ignore[arg-type]
        await service.start()
        assert service.resolve("f").state == "Pending"
        await settled(service)
        fv = service.resolve("f")
        assert fv.state == "Active"
        assert Path(fv.code_dir, "app.py").is_file()
        assert service.tags("f") == {"k": "v"}
        shoal.store.close()

    asyncio.run(second())


def test_leftover_temporary_trees_are_removed_at_start(tmp_path: Path) -> None:
    leftover = tmp_path / "code" / ".abc.tmp"
    (leftover / "x").mkdir(parents=True)
    shoal = FakeShoal(tmp_path)
    FunctionService(shoal)  # type: ignore[arg-type]
    assert not leftover.exists()
    shoal.store.close()
