"""A mount source whose path holds a symlink (planted by a function in a shared file system,
say) fails the spawn: it is never followed to somewhere else on the host."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sandbox_helpers import make_code, make_spec, request, run

from shoal.sandbox.forkserver import ForkServerFactory
from shoal.sandbox.types import Mount, SandboxError

LIST = "import os\ndef handler(e, c):\n    return sorted(os.listdir('/mnt/data'))\n"


def test_a_plain_directory_is_mounted(code_root: Path) -> None:
    data = code_root / "fs" / "ap"
    data.mkdir(parents=True)
    (data / "mine.txt").write_text("x")
    code = make_code(code_root, LIST)

    async def body(factory: ForkServerFactory) -> list[str]:
        env = await factory.spawn(
            make_spec(code, mounts=(Mount(str(data), "/mnt/data"),)), lambda *_: None
        )
        try:
            assert (await env.init()).error is None
            result = await env.invoke(request())
            return list(json.loads(result.payload))
        finally:
            await env.destroy()

    assert run(body) == ["mine.txt"]


@pytest.mark.parametrize("where", ["last", "middle"])
def test_a_symlinked_component_fails_the_spawn(code_root: Path, where: str) -> None:
    secret = code_root / "host-secret"
    secret.mkdir()
    (secret / "shadow").write_text("host only")
    fs = code_root / "fs"
    fs.mkdir()
    if where == "last":
        os.symlink(secret, fs / "ap")
        source = fs / "ap"
    else:
        os.symlink(secret, fs / "dir")
        (secret / "ap").mkdir()
        source = fs / "dir" / "ap"
    code = make_code(code_root, LIST)

    async def body(factory: ForkServerFactory) -> None:
        with pytest.raises(SandboxError):
            env = await factory.spawn(
                make_spec(code, mounts=(Mount(str(source), "/mnt/data"),)), lambda *_: None
            )
            await env.destroy()

    run(body)
