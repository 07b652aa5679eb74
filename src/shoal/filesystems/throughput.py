"""EFS's throughput arithmetic: metered bytes, baseline and burst rates, burst credits, and the
permitted throughput of each throughput mode. Pure functions and one small value type; no I/O
(the kernel side is :mod:`shoal.filesystems.blkio`, the clock and the publishing
:mod:`shoal.filesystems.io_metrics`).

The rules, from the Amazon EFS User Guide ("Throughput modes", "Amazon EFS performance",
"Amazon EFS CloudWatch metrics") and the knowledge-center note on burst credits:

- **Metered throughput.** In the bursting and provisioned modes a read is metered at one third
  of its bytes; writes and metadata operations at their full size. Elastic meters every byte.
- **Bursting.** Baseline 50 KiB/s per GiB of Standard storage (50 MiB/s per TiB), at least
  1 MiB/s; burst 100 MiB/s per TiB, at least 100 MiB/s. Credits (bytes) are earned at the
  baseline rate and spent by metered I/O (so driving at the baseline spends them as fast as
  they are earned); a new file system starts with 2.1 TiB of them; the balance is capped at
  2.1 TiB, or 2.1 TiB per TiB stored above 1 TiB. A positive balance permits the burst rate,
  an empty one the baseline.
- **Provisioned.** The configured rate, or the bursting baseline when the storage gives more
  (``PermittedThroughput`` then reports the higher one, as EFS's does).
- **Elastic.** No limit here beyond the machine (:data:`UNLIMITED`).

Rates are bytes per second throughout; ``MiB`` is 2**20 bytes as in the API's
``ProvisionedThroughputInMibps``.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

READ_WEIGHT = 1.0 / 3.0  # a read is metered at a third of its bytes (bursting, provisioned)
BASELINE_PER_GIB = 50 * KiB  # bytes/s per GiB of storage
MIN_BASELINE = 1 * MiB
BURST_PER_TIB = 100 * MiB
MIN_BURST = 100 * MiB
INITIAL_CREDITS = 2.1 * TiB
CREDIT_CAP_PER_TIB = 2.1 * TiB
METADATA_OP_BYTES = 4 * KiB  # what one metadata operation is metered as (see io_metrics)
UNLIMITED = float("inf")

MODES = ("bursting", "provisioned", "elastic")


def baseline(storage_bytes: float) -> float:
    """The bursting baseline for a file system storing ``storage_bytes``."""
    return max(MIN_BASELINE, BASELINE_PER_GIB * storage_bytes / GiB)


def burst(storage_bytes: float) -> float:
    return max(MIN_BURST, BURST_PER_TIB * storage_bytes / TiB)


def credit_cap(storage_bytes: float) -> float:
    return max(CREDIT_CAP_PER_TIB, CREDIT_CAP_PER_TIB * storage_bytes / TiB)


def read_weight(mode: str) -> float:
    return 1.0 if mode == "elastic" else READ_WEIGHT


def metered(mode: str, read_bytes: float, write_bytes: float, metadata_bytes: float) -> float:
    """``MeteredIOBytes`` of some I/O in ``mode``."""
    return read_bytes * read_weight(mode) + write_bytes + metadata_bytes


def permitted(mode: str, provisioned_mibps: float | None, storage_bytes: float,
              balance: float, horizon_s: float | None = None) -> float:  # fmt: skip
    """``PermittedThroughput`` (metered bytes/s) now; :data:`UNLIMITED` for elastic.

    ``horizon_s``: how long the rate will hold before it is computed again (the metering
    tick). A bursting file system then gets no more above its baseline than its balance pays
    for over that time, ``min(burst, baseline + balance / horizon_s)``: a balance of a few
    bytes does not buy a whole tick at the burst rate, so an empty balance holds the file
    system to its baseline, as EFS's does, rather than to a mix of burst and baseline.
    """
    if mode == "elastic":
        return UNLIMITED
    base = baseline(storage_bytes)
    if mode == "provisioned":
        return max((provisioned_mibps or 0.0) * MiB, base)
    if balance <= 0:
        return base
    if horizon_s is None:
        return burst(storage_bytes)
    return min(burst(storage_bytes), base + balance / horizon_s)


@dataclass(frozen=True)
class Credits:
    """A burst-credit balance (bytes) as of ``at`` (seconds, the caller's clock).

    :meth:`advance` is the whole rule: over ``elapsed`` seconds, earn ``baseline × elapsed``
    and spend ``metered_bytes``, then clamp to ``[0, cap]``. Earning is the baseline whatever
    the mode (EFS keeps accruing a provisioned or elastic file system's balance, which it
    finds again on switching back to bursting). ``clock`` multiplies the earning only: the
    server setting that lets a scenario recover in seconds; spending is always the real bytes.
    """

    balance: float
    at: float

    def advance(self, now: float, metered_bytes: float, storage_bytes: float,
                clock: float = 1.0) -> Credits:  # fmt: skip
        elapsed = max(0.0, now - self.at)
        earned = baseline(storage_bytes) * elapsed * clock
        balance = self.balance + earned - metered_bytes
        return Credits(min(max(balance, 0.0), credit_cap(storage_bytes)), now)


def split(permitted_bps: float, mode: str, read_bytes: float, write_bytes: float,
          floor: float = 0.1) -> tuple[float, float]:  # fmt: skip
    """The kernel limits ``(read_bps, write_bps)`` that hold metered throughput to
    ``permitted_bps``, given the bytes read and written over the last interval.

    The kernel throttles reads and writes separately, so alone each gets the whole budget
    (reads at ``permitted / read_weight``: three times the rate in bursting and provisioned
    modes). Both at full rate would reach twice the budget, so when both directions carried at
    least ``floor`` of the last interval's metered bytes the budget is shared in proportion to
    each one's metered share (never less than ``floor`` of it, so that neither starves). Below
    that (a journal commit during a long read, an ``atime`` update) both keep the whole budget:
    the excess is bounded by ``floor`` of it, and a lone stream is not slowed by a trickle.
    """
    weight = read_weight(mode)
    if permitted_bps == UNLIMITED:
        return UNLIMITED, UNLIMITED
    r, w = read_bytes * weight, write_bytes
    if r + w <= 0 or min(r, w) / (r + w) < floor:
        return permitted_bps / weight, permitted_bps
    read_share = min(max(r / (r + w), floor), 1.0 - floor)
    return permitted_bps * read_share / weight, permitted_bps * (1.0 - read_share)
