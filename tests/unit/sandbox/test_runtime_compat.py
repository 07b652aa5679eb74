"""The runtime package runs inside every supported interpreter: import all of it there."""

from __future__ import annotations

import subprocess

import pytest

from shoal.runtime.zygote import RUNTIME_DIR
from shoal.sandbox.runtimes import discover

MODULES = (
    "frames",
    "errors",
    "handler",
    "context",
    "logs",
    "bootstrap",
    "linux",
    "rootfs",
    "spawn",
    "zygote",
    "snapshot_restore_py",
    "template",
    "restore",
    "cmdline",
    "seccomp",
)
LOAD = (
    "import importlib.util as u, sys\n"
    "d = sys.argv[1]\n"
    "s = u.spec_from_file_location('_shoal_runtime', d + '/__init__.py',"
    " submodule_search_locations=[d])\n"
    "m = u.module_from_spec(s); sys.modules['_shoal_runtime'] = m; s.loader.exec_module(m)\n"
    "import importlib\n"
    "for name in sys.argv[2:]:\n"
    "    importlib.import_module('_shoal_runtime.' + name)\n"
    "print('ok')\n"
)


@pytest.mark.parametrize(("runtime", "interpreter"), sorted(discover().items()))
def test_runtime_package_imports_on(runtime: str, interpreter: str) -> None:
    proc = subprocess.run(
        [interpreter, "-I", "-S", "-c", LOAD, RUNTIME_DIR, *MODULES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
