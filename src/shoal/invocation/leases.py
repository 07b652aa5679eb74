"""Concurrency leases: how many invocations may run at once, per function and account-wide.

Scheduling policy, as Lambda's: a function with reserved concurrency N runs at most N
invocations at once and draws only from its reservation; every other function shares the
account's unreserved pool (the account limit minus every reservation). An invocation over its
limit is throttled at once with ``TooManyRequestsException`` (429) — it never queues (the async
queue waits and tries again; a synchronous caller gets the 429).

Provisioned concurrency runs inside these limits: a provisioned environment's invocation takes a
lease like any other. For the *settings* checks (how much may still be reserved or provisioned)
the provisioned concurrency of functions without a reservation is taken out of the unreserved
part too, as Lambda reports it (:meth:`ConcurrencyLimiter.unreserved_available`).

The account limit is per region, as Lambda's: functions are named by their ARNs here, and the
reservations and unreserved pool of one region leave another's alone (a bare name, as the unit
tests use, is in region "").

A lease is a context manager taken before an environment is chosen and released in ``finally``,
so a crashed or timed-out invocation always gives its slot back. All state is touched on the
event loop only.
"""

from __future__ import annotations

from shoal.errors import AwsError


def region_of(function: str) -> str:
    """The region of a function's ARN ("" for a bare name)."""
    parts = function.split(":", 4)
    return parts[3] if len(parts) > 4 else ""


def throttled(reason: str) -> AwsError:
    return AwsError("TooManyRequestsException", "Rate Exceeded.", Reason=reason)


class ConcurrencyLimiter:
    def __init__(self, account_limit: int, unreserved_minimum: int) -> None:
        self.account_limit = account_limit
        self.unreserved_minimum = unreserved_minimum
        self.reserved: dict[str, int] = {}  # function -> reserved concurrency
        self.running: dict[str, int] = {}  # function -> invocations running now
        # region -> running invocations of its functions with no reservation
        self.running_unreserved: dict[str, int] = {}
        self._reserved_in: dict[str, int] = {}  # region -> its reservations' sum
        # function -> provisioned concurrency of all its versions and aliases (settings).
        self.provisioned: dict[str, int] = {}

    def unreserved_pool(self, region: str) -> int:
        return self.account_limit - self._reserved_in.get(region, 0)

    def unreserved_available(self, excluding: str | None = None, region: str = "") -> int:
        """UnreservedConcurrentExecutions of a region as Lambda reports it: the account limit
        minus every reservation and the provisioned concurrency of functions without one
        (leaving out the function ``excluding``, whose settings are being changed; its region
        is the one counted then)."""
        if excluding is not None:
            region = region_of(excluding)

        def counted(k: str) -> bool:
            return k != excluding and region_of(k) == region

        taken = sum(v for k, v in self.reserved.items() if counted(k))
        taken += sum(
            v for k, v in self.provisioned.items() if counted(k) and k not in self.reserved
        )
        return self.account_limit - taken

    def can_reserve(self, name: str, value: int) -> bool:
        """Whether reserving ``value`` for ``name`` leaves the unreserved minimum."""
        return self.unreserved_available(excluding=name) - value >= self.unreserved_minimum

    def set_reserved(self, name: str, value: int | None) -> None:
        region = region_of(name)
        before = self.reserved.pop(name, 0)
        if value is not None:
            self.reserved[name] = value
        self._reserved_in[region] = self._reserved_in.get(region, 0) - before + (value or 0)

    def total_running(self) -> int:
        return sum(self.running.values())

    def lease(self, name: str) -> Lease:
        """Take a slot for one invocation of ``name`` (raises the 429 when none is left); the
        lease gives it back on exit. Taken when called, so use it at once: ``with lease(..):``."""
        reserved = self.reserved.get(name)
        running = self.running.get(name, 0)
        region = ""
        if reserved is not None:
            if running >= reserved:
                raise throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        else:
            region = region_of(name)
            if self.running_unreserved.get(region, 0) >= self.unreserved_pool(region):
                raise throttled("ConcurrentInvocationLimitExceeded")
        self.running[name] = running + 1
        if reserved is None:
            self.running_unreserved[region] = self.running_unreserved.get(region, 0) + 1
        return Lease(self, name, reserved is None)

    def _release(self, name: str, unreserved: bool) -> None:
        left = self.running[name] - 1
        if left:
            self.running[name] = left
        else:
            del self.running[name]
        if unreserved:
            self.running_unreserved[region_of(name)] -= 1


class Lease:
    """One invocation's slot, given back once on exit (a class, not a generator context
    manager: this is on every invocation's path, and costs a third as much)."""

    __slots__ = ("_limiter", "_name", "_unreserved", "_held")

    def __init__(self, limiter: ConcurrencyLimiter, name: str, unreserved: bool) -> None:
        self._limiter = limiter
        self._name = name
        self._unreserved = unreserved  # counted in the unreserved pool when taken
        self._held = True

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._held:
            self._held = False
            self._limiter._release(self._name, self._unreserved)
