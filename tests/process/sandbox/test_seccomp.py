"""The seccomp filter in every execution environment, plain and snapshot-started: each call it
must refuse fails with EPERM (clone3 with ENOSYS, so that glibc falls back to clone) and the
function goes on running; Python with NumPy and Pillow still works. Real fork servers, real
sandboxes (needs root)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyseccomp
import pytest
from sandbox_helpers import GID, UID, Output, make_code, make_spec, request, run

from shoal.sandbox.forkserver import ForkServerFactory

PROBE = Path(__file__).with_name("seccomp_probe.py")
sys.path.insert(0, str(PROBE.parent))
import seccomp_probe  # noqa: E402

EXPECTED = {name: "EPERM" for name in seccomp_probe.CALLS} | {"clone3": "ENOSYS"}
EXPECTED["x32 getpid"] = "EPERM"  # a call through another ABI fails like an unlisted one
FILTERED = {"Seccomp": "2", "NoNewPrivs": "1"}


def _calls() -> dict[str, list[Any]]:
    """name -> [this architecture's number, *arguments]."""
    calls = {
        name: [pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name), *args]
        for name, args in seccomp_probe.CALLS.items()
    }
    getpid = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "getpid")
    calls["x32 getpid"] = [seccomp_probe.X32_BIT | getpid]
    assert all(nr[0] >= 0 for nr in calls.values()), calls
    return calls


def _control(calls: dict[str, list[Any]]) -> dict[str, str]:
    """The same probe on the host, as the same uid, with no filter."""
    out = subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--",
         sys.executable, str(PROBE), json.dumps(calls)],
        capture_output=True, text=True, timeout=60, cwd="/",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"]["Seccomp"] == "0"
    return dict(doc["answers"])


def _assert_filter_answered(answers: dict[str, str], control: dict[str, str]) -> None:
    assert answers == EXPECTED
    # Without the filter the same uid gets other answers (a key, a success, EBADF, EINVAL,
    # EFAULT...): the EPERMs above are the filter's.
    unfiltered = {name for name, got in control.items() if got != EXPECTED[name]}
    must = {"add_key", "request_key", "keyctl", "unshare", "setns", "clone", "clone3", "ptrace",
            "personality", "perf_event_open", "bpf", "userfaultfd", "io_uring_setup",
            "io_uring_enter", "mount", "umount2", "open_tree", "mount_setattr",
            "open_by_handle_at", "name_to_handle_at", "kcmp", "process_vm_readv",
            "pidfd_getfd", "clock_settime", "adjtimex", "chroot", "x32 getpid"}
    assert must <= unfiltered, (must - unfiltered, control)


def test_denied_calls_fail_with_eperm_and_the_function_lives_on(code_root: Path) -> None:
    calls = _calls()
    code = make_code(code_root, PROBE.read_text())
    event = json.dumps({"calls": calls}).encode()

    async def body(factory: ForkServerFactory) -> list[dict[str, Any]]:
        env = await factory.spawn(make_spec(code), Output())
        assert (await env.init()).error is None
        results = []
        for _ in range(2):  # the same process answers twice: nothing was killed
            result = await env.invoke(request(event))
            assert result.kind == "success", result.payload
            results.append(json.loads(result.payload))
        return results

    first, second = run(body)
    control = _control(calls)
    for r in (first, second):
        _assert_filter_answered(r["answers"], control)
        assert {k: r["status"][k] for k in FILTERED} == FILTERED
        assert r["status"]["Seccomp_filters"] == "1"
        assert {k: r["init"][k] for k in FILTERED} == FILTERED  # PID 1 too


TEMPLATE_APP = """
import json, os
from seccomp_probe import probe, status, handler as probe_handler
# Runs once, in the template, under the template's filter: still no keyring, no mount of
# its own choosing, no namespaces but the one combination a restore makes.
CALLS = json.loads(open(os.path.join(os.path.dirname(__file__), "calls.json")).read())
AT_INIT = probe(CALLS)
TEMPLATE_STATUS = status()


def handler(event, context):
    return dict(probe_handler(event, context), template=AT_INIT, template_status=TEMPLATE_STATUS)
"""


def test_snapshot_started_environments_are_filtered_too(code_root: Path) -> None:
    calls = _calls()
    template_calls = {k: calls[k] for k in ("add_key", "keyctl", "unshare", "mount", "ptrace")}
    code = make_code(
        code_root, TEMPLATE_APP,
        **{"seccomp_probe.py": PROBE.read_text(), "calls.json": json.dumps(template_calls)},
    )
    event = json.dumps({"calls": calls}).encode()

    async def body(factory: ForkServerFactory) -> list[dict[str, Any]]:
        template = await factory.snapshot(make_spec(code), Output())
        assert template.init.error is None
        results = []
        for i in range(2):
            spec = make_spec(code, env_id=f"snap-secc-{i}-{template.env.env_id[-6:]}")
            env = await factory.spawn_from(template, spec, Output())
            assert (await env.init()).error is None
            result = await env.invoke(request(event))
            assert result.kind == "success", result.payload
            results.append(json.loads(result.payload))
        return results

    results = run(body)
    control = _control(calls)
    for r in results:
        _assert_filter_answered(r["answers"], control)
        # The template's filter and the strict one stacked on it, in the worker and in PID 1.
        assert r["status"]["Seccomp"] == "2" and r["status"]["Seccomp_filters"] == "2"
        assert r["init"]["Seccomp"] == "2" and r["init"]["Seccomp_filters"] == "2"
        # In the template itself, user code was already filtered (one filter).
        assert r["template_status"]["Seccomp_filters"] == "1"
        assert r["template"] == {k: "EPERM" for k in template_calls}


NUMPY_PILLOW = """
import hashlib, io
import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def handler(event, context):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((200, 200))
    x = np.linalg.solve(a, a @ np.arange(200.0))          # LAPACK, BLAS threads
    spectrum = np.abs(np.fft.rfft(np.sin(np.linspace(0, 64 * np.pi, 4096))))
    img = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(img).ellipse((32, 32, 224, 224), fill=(200, 30, 30))
    img = img.filter(ImageFilter.GaussianBlur(3)).resize((128, 128))
    png, jpeg = io.BytesIO(), io.BytesIO()
    img.save(png, "PNG")
    img.save(jpeg, "JPEG", quality=90)
    back = np.asarray(Image.open(io.BytesIO(png.getvalue())))
    return {
        "solve_ok": bool(np.allclose(x, np.arange(200.0))),
        "peak": int(spectrum.argmax()),
        "png": png.getvalue()[:8].hex(), "jpeg": jpeg.getvalue()[:2].hex(),
        "shape": list(back.shape), "centre": back[64, 64].tolist(),
        "numpy": np.__version__, "pil": Image.__version__,
    }
"""


@pytest.fixture(scope="module")
def numpy_pillow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NumPy and Pillow installed into a package directory, as a function would ship them."""
    target = tmp_path_factory.mktemp("wheels") / "site"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), "numpy==2.4.6", "pillow==12.2.0"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return target


def test_numpy_and_pillow_run_under_the_filter(code_root: Path, numpy_pillow: Path) -> None:
    code = make_code(code_root, NUMPY_PILLOW)
    subprocess.run(["cp", "-a", f"{numpy_pillow}/.", str(code)], check=True)
    subprocess.run(["chmod", "-R", "a+rX", str(code)], check=True)

    async def body(factory: ForkServerFactory) -> dict[str, Any]:
        for snap in (False, True):
            spec = make_spec(code, memory_mb=512, timeout_s=30)
            if snap:
                template = await factory.snapshot(make_spec(code, memory_mb=512), Output())
                env = await factory.spawn_from(template, spec, Output())
            else:
                env = await factory.spawn(spec, Output())
            assert (await env.init()).error is None
            result = await env.invoke(request(timeout_s=30))
            assert result.kind == "success", result.payload
            doc: dict[str, Any] = json.loads(result.payload)
            assert doc["solve_ok"] is True and doc["peak"] == 32
            assert doc["png"] == "89504e470d0a1a0a" and doc["jpeg"] == "ffd8"
            assert doc["shape"] == [128, 128, 3] and doc["centre"] == [200, 30, 30]
            assert doc["numpy"] == "2.4.6" and doc["pil"] == "12.2.0"
        return doc

    run(body)
