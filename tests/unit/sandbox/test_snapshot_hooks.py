"""The snapshot_restore_py hooks and the runtime's snapshot/restore steps (no processes)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shoal.runtime import bootstrap
from shoal.runtime import snapshot_restore_py as hooks


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    hooks.get_before_snapshot().clear()
    hooks.get_after_restore().clear()
    yield
    hooks.get_before_snapshot().clear()
    hooks.get_after_restore().clear()
    gc.unfreeze()  # Runtime.snapshot froze this process's heap


def test_before_hooks_run_once_in_reverse_order_after_hooks_in_order() -> None:
    calls: list[str] = []

    @hooks.register_before_snapshot
    def first() -> None:
        calls.append("before-1")

    hooks.register_before_snapshot(calls.append, "before-2")
    hooks.register_after_restore(calls.append, "after-1")
    hooks.register_after_restore(lambda tag="after-2": calls.append(tag))
    assert first.__name__ == "first"  # the decorator returns the function itself
    assert [entry[1] for entry in hooks.get_after_restore()] == [("after-1",), ()]
    hooks.run_before_snapshot()
    hooks.run_before_snapshot()  # popped as they ran: nothing runs twice
    hooks.run_after_restore()
    hooks.run_after_restore()  # once per restored environment
    assert calls == ["before-2", "before-1", "after-1", "after-2", "after-1", "after-2"]
    assert hooks.get_before_snapshot() == []


def test_keyword_arguments_are_passed() -> None:
    seen: dict[str, object] = {}
    hooks.register_after_restore(seen.update, seed=42)
    hooks.run_after_restore()
    assert seen == {"seed": 42}


def _runtime() -> bootstrap.Runtime:
    runtime = bootstrap.Runtime(sock=None)
    runtime.handler = lambda event, context: event
    runtime.init_frame = {"log_stream_name": "template-stream", "function_name": "fn"}
    return runtime


def test_snapshot_needs_a_successful_init_once() -> None:
    runtime = bootstrap.Runtime(sock=None)
    error = runtime.snapshot()
    assert error is not None and error["errorType"] == "Runtime.BeforeSnapshotError"
    runtime = _runtime()
    assert runtime.snapshot() is None
    runtime.template = True
    assert runtime.snapshot() is not None


def test_hook_failures_carry_lambdas_error_types() -> None:
    hooks.register_before_snapshot(lambda: {}["missing"])
    error = _runtime().snapshot()
    assert error is not None
    assert error["errorType"] == "Runtime.BeforeSnapshotError"
    assert error["errorMessage"] == "KeyError: 'missing'"
    hooks.register_after_restore(lambda: 1 / 0)
    runtime = _runtime()
    runtime.restored = True
    error = runtime.init({"op": "init", "log_stream_name": "mine"})
    assert error is not None and error["errorType"] == "Runtime.AfterRestoreError"


def test_restored_init_runs_the_hooks_and_takes_the_new_names() -> None:
    ran: list[int] = []
    hooks.register_after_restore(ran.append, 1)
    runtime = _runtime()
    runtime.restored = True
    assert runtime.init({"op": "init", "log_stream_name": "mine"}) is None
    assert ran == [1]
    assert runtime.init_frame == {"op": "init", "log_stream_name": "mine", "function_name": "fn"}
