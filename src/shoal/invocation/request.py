"""An Invoke request's own rules, before it reaches an environment: the payload limits and
the JSON check (Lambda's errors for each), a new request id, and the ARN the function's
context reports as invoked.

Plain functions, no state: used by the invoker (:mod:`shoal.invocation.invoker`), and for
request ids by the API layer and the HTTP gateway too.
"""

from __future__ import annotations

import json
import random

from shoal.errors import AwsError
from shoal.functions.models import FunctionVersion

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
# Invoke's documented limits: 6 MB synchronous, 1 MB asynchronous (raised from 256 KB in
# 2025; the deprecated InvokeAsync keeps 256 KB, checked in its API handler).
ASYNC_PAYLOAD_LIMIT = 1024 * 1024


def new_request_id() -> str:
    """A random (version 4) UUID string, as Lambda's request ids are.

    From the ``random`` module's generator, not ``uuid.uuid4()``: a request id names an
    invocation and need not be unpredictable, and ``uuid4`` costs a ``getrandom`` syscall and a
    ``UUID`` object on every invoke. The module's generator is reseeded in forked children.
    """
    n = random.getrandbits(128) & _UUID_CLEAR | _UUID4_BITS
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# The version (4) and variant (RFC 4122) bits of a random UUID.
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_BITS = (0x4 << 76) | (0x2 << 62)


def invoked_arn(fn: FunctionVersion, qualifier: str | None) -> str:
    """The ARN the caller invoked, as the context gives it: an alias's, a version's, or the
    unqualified one."""
    if qualifier:
        return f"{fn.function_arn}:{qualifier}"
    return fn.function_arn if fn.version == "$LATEST" else f"{fn.function_arn}:{fn.version}"


def check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, RecursionError) as e:
        # RecursionError: nested deeper than the decoder's stack; Lambda refuses it as invalid.
        reason = "nesting too deep" if isinstance(e, RecursionError) else e
        raise AwsError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {reason}",
        ) from None
