"""Snapshot-start runtime hooks, under the name and API of AWS's ``snapshot_restore_py`` (the
``snapshot-restore-py`` package that Lambda's Python runtimes include), so that the same
handler code runs on Lambda SnapStart and on Shoal's snapshot starts::

    from snapshot_restore_py import register_after_restore, register_before_snapshot

    @register_before_snapshot
    def close_connections(): ...

    register_after_restore(reseed, 42)   # or with arguments

Before-snapshot hooks run once, in the template, after init and in the *reverse* order of
registration; after-restore hooks run in every environment forked from it, before its first
invocation, in the order of registration (Lambda's rules). Without snapshot starts the hooks
are registered and never run, as on Lambda.

The runtime makes this module importable as ``snapshot_restore_py`` (``sys.modules``) before
the handler is imported, so a copy bundled with the function's code is never the one used.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple  # noqa: UP035 (Hook is evaluated on 3.8)

# (callable, args, kwargs), in the order of registration.
Hook = Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]  # noqa: UP006

_before_snapshot: list[Hook] = []
_after_restore: list[Hook] = []


def register_before_snapshot(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` once before the snapshot; usable as a decorator."""
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(
    func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Run ``func(*args, **kwargs)`` in each restored environment; usable as a decorator."""
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[Hook]:
    """The registry itself (AWS's runner pops from it), in the order of registration."""
    return _before_snapshot


def get_after_restore() -> list[Hook]:
    return _after_restore


def run_before_snapshot() -> None:
    """Reverse order of registration; each hook runs at most once (popped as it runs)."""
    while _before_snapshot:
        func, args, kwargs = _before_snapshot.pop()
        func(*args, **kwargs)


def run_after_restore() -> None:
    for func, args, kwargs in list(_after_restore):
        func(*args, **kwargs)
