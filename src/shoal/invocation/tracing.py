"""X-Ray trace headers: the ``_X_AMZN_TRACE_ID`` every invocation runs under.

Lambda sets ``_X_AMZN_TRACE_ID`` in the function's environment for each invocation, to
``Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``; libraries read it
there (Powertools' Logger logs its root as ``xray_trace_id``, the X-Ray SDK continues it). A
caller's ``X-Amzn-Trace-Id`` (an HTTP API request, an Invoke call) carries its trace on: its
``Root`` is kept, and the header is the parent of this hop, so ``Parent`` is new. Shoal records
no traces, so ``Sampled`` is always 0 (a sampled header would make an X-Ray SDK in the function
try to send segments to a daemon that is not there).

Who calls: the gateway and the Invoke API (:func:`trace_header` of what the caller sent, once
per request, so that the event's ``x-amzn-trace-id`` and the environment agree), the invoker
(a new one when the caller gave none). The async queue stores the header with the event: every
attempt of it runs under the trace it was queued with.
"""

from __future__ import annotations

import random
import time

_HEX = frozenset("0123456789abcdef")


def root_of(header: str | None) -> str | None:
    """The ``Root`` of an ``X-Amzn-Trace-Id`` value if it is a well-formed X-Ray trace id
    (``1-`` 8 hex ``-`` 24 hex, lower-cased), else None. Other fields (``Parent``, ``Sampled``,
    ``Self``, ``Lineage``) and malformed parts are ignored."""
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() != "root":
            continue
        value = value.strip().lower()
        if (
            len(value) == 35
            and value[:2] == "1-"
            and value[10] == "-"
            and _HEX.issuperset(value[2:10])
            and _HEX.issuperset(value[11:])
        ):
            return value
        return None
    return None


def trace_header(incoming: str | None = None) -> str:
    """The trace header an invocation runs under: the caller's root (or a new one), a new
    parent, not sampled. On the invoke path: one ``getrandbits`` and one format for a new
    trace (root and parent from the same 160 random bits). From ``random``, as request ids are
    (:func:`shoal.invocation.request.new_request_id`): a trace id names, it does not guard."""
    root = root_of(incoming) if incoming else None
    if root is not None:
        return f"Root={root};Parent={random.getrandbits(64):016x};Sampled=0"
    h = f"{(int(time.time()) & 0xFFFFFFFF) << 160 | random.getrandbits(160):048x}"
    return f"Root=1-{h[:8]}-{h[8:32]};Parent={h[32:]};Sampled=0"
