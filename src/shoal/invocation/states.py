"""The execution environment state machine.

::

    STARTING ──► IDLE ◄──► BUSY
        │          │         │
        └──────────┴────► DEAD

An environment is STARTING while it is spawned and its init runs, IDLE when it waits in its
pool, BUSY while exactly one invocation runs in it, and DEAD once destroyed (timeout, crash,
out of memory, reaped, retired by an update, shutdown). DEAD is final. Transitions happen on the
event loop, which is the lock: no transition awaits between its check and its change.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shoal.functions.logging_config import LoggingConfig

if TYPE_CHECKING:
    from shoal.observability.logs import LogStream
    from shoal.sandbox.api import Environment


class EnvState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.STARTING: frozenset({EnvState.IDLE, EnvState.BUSY, EnvState.DEAD}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.DEAD}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.DEAD}),
    EnvState.DEAD: frozenset(),
}


# TRANSITIONS as (from, to) value pairs: a tuple of two strings hashes in C, where an Enum
# member's __hash__ is a Python call (transitions happen twice per invocation).
_ALLOWED = frozenset((a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets)


class InvalidTransition(Exception):
    def __init__(self, env_id: str, current: EnvState, wanted: EnvState) -> None:
        super().__init__(f"environment {env_id}: {current.value} -> {wanted.value} is not allowed")
        self.current = current
        self.wanted = wanted


@dataclass(eq=False)
class ManagedEnvironment:
    """An environment as the invoker tracks it: the sandbox handle plus scheduling state."""

    env_id: str
    sandbox: Environment | None = None
    log: LogStream | None = None
    state: EnvState = EnvState.STARTING
    init_type: str = "on-demand"  # on-demand | provisioned-concurrency | snap-start
    init_duration_ms: float | None = None  # reported on the first invocation only
    invocations: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Set while an invocation runs: where its output goes (for LogType=Tail).
    tail: bytearray | None = None
    output_bytes: int = 0  # output of the running invocation, to cap floods
    # When (epoch s) its execution-role credentials are renewed: by the next invocation after.
    renew_credentials_at: float = 0.0
    # Its function's LoggingConfig (one per revision, as the environment): the level filter
    # of the records its runtime sends.
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def transition(self, wanted: EnvState) -> None:
        if (self.state._value_, wanted._value_) not in _ALLOWED:
            raise InvalidTransition(self.env_id, self.state, wanted)
        self.state = wanted
        if wanted is EnvState.IDLE:
            self.last_used = time.monotonic()

    @property
    def dead(self) -> bool:
        return self.state is EnvState.DEAD
