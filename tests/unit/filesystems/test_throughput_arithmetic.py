"""EFS's throughput arithmetic (shoal.filesystems.throughput) and UpdateFileSystem's 24-hour
rule (shoal.filesystems.rules)."""

from __future__ import annotations

import pytest

from shoal.errors import AwsError
from shoal.filesystems import throughput as t
from shoal.filesystems.models import FileSystem
from shoal.filesystems.rules import check_throughput_change


def test_baseline_and_burst_follow_storage_with_their_minimums() -> None:
    assert t.baseline(0) == t.MiB  # at least 1 MiB/s
    assert t.baseline(10 * t.GiB) == t.MiB  # 500 KiB/s by the rate: the minimum wins
    assert t.baseline(100 * t.GiB) == 5000 * t.KiB
    assert t.baseline(t.TiB) == 50 * t.MiB
    assert t.burst(0) == 100 * t.MiB
    assert t.burst(4 * t.TiB) == 400 * t.MiB
    assert t.credit_cap(10 * t.GiB) == 2.1 * t.TiB
    assert t.credit_cap(2 * t.TiB) == 4.2 * t.TiB


def test_reads_meter_at_a_third_except_in_elastic() -> None:
    assert t.metered("bursting", 3000, 0, 0) == pytest.approx(1000)
    assert t.metered("provisioned", 3000, 500, 4096) == pytest.approx(1000 + 500 + 4096)
    assert t.metered("elastic", 3000, 500, 0) == 3500


def test_permitted_throughput_by_mode() -> None:
    assert t.permitted("bursting", None, 0, 1.0) == 100 * t.MiB
    assert t.permitted("bursting", None, 0, 0.0) == t.MiB  # no credits: the baseline
    assert t.permitted("provisioned", 8, 0, 0.0) == 8 * t.MiB
    # Storage that earns more than what is provisioned: EFS permits (and reports) the higher.
    assert t.permitted("provisioned", 8, 1 * t.TiB, 0.0) == 50 * t.MiB
    assert t.permitted("elastic", None, 0, 0.0) == t.UNLIMITED
    # Over a horizon (the metering tick), a small balance buys only what it pays for.
    assert t.permitted("bursting", None, 0, 0.5 * t.MiB, horizon_s=1.0) == 1.5 * t.MiB
    assert t.permitted("bursting", None, 0, 2.1 * t.TiB, horizon_s=1.0) == 100 * t.MiB


def test_credit_arithmetic_over_a_run_matches_the_formula() -> None:
    """A run of ticks: the balance is initial + baseline × elapsed − metered, clamped."""
    storage = 2 * t.GiB  # baseline 1 MiB/s (the minimum)
    c = t.Credits(200 * t.MiB, at=0.0)
    spent = 0.0
    for second in range(1, 11):  # ten seconds at 10 MiB/s of writes and 6 MiB/s of reads
        metered = t.metered("bursting", 6 * t.MiB, 10 * t.MiB, 0)
        spent += metered
        c = c.advance(float(second), metered, storage)
    assert spent == pytest.approx(120 * t.MiB)
    assert c.balance == pytest.approx(200 * t.MiB + 10 * t.MiB - 120 * t.MiB)
    assert c.at == 10.0
    # Spending past zero holds it at zero; then it is earned back at the baseline.
    c = c.advance(11.0, 500 * t.MiB, storage)
    assert c.balance == 0.0
    assert t.permitted("bursting", None, storage, c.balance) == t.baseline(storage)
    c = c.advance(41.0, 0, storage)
    assert c.balance == pytest.approx(30 * t.MiB)
    # The clock setting multiplies only the earning.
    assert c.advance(42.0, 0, storage, clock=60).balance == pytest.approx(90 * t.MiB)
    # And the balance never passes its cap.
    assert t.Credits(2.1 * t.TiB, 0).advance(3600, 0, storage).balance == 2.1 * t.TiB


def test_split_shares_the_budget_between_reads_and_writes() -> None:
    p = 8 * t.MiB
    assert t.split(p, "provisioned", 0, 0) == (24 * t.MiB, 8 * t.MiB)  # each alone gets it all
    assert t.split(p, "provisioned", 5, 0) == (24 * t.MiB, 8 * t.MiB)
    read_bps, write_bps = t.split(p, "provisioned", 3 * t.MiB, 1 * t.MiB)  # metered 1 : 1
    assert read_bps == pytest.approx(12 * t.MiB) and write_bps == pytest.approx(4 * t.MiB)
    assert read_bps / 3 + write_bps == pytest.approx(p)  # together: the budget, not twice it
    read_bps, write_bps = t.split(p, "provisioned", 6 * t.MiB, 18 * t.MiB)  # metered 1 : 9
    assert read_bps == pytest.approx(0.1 * p * 3) and write_bps == pytest.approx(0.9 * p)
    # A trickle beside a stream (a journal commit during a long read) does not slow it.
    assert t.split(p, "provisioned", 24 * t.MiB, 64 * t.KiB) == (24 * t.MiB, 8 * t.MiB)
    assert t.split(t.UNLIMITED, "elastic", 1, 1) == (t.UNLIMITED, t.UNLIMITED)


def _fs(mode: str, mibps: float | None, changed: float | None) -> FileSystem:
    return FileSystem(id="fs-0123456789abcdef0", arn="arn", owner_id="1", creation_token="t",
                      creation_time=0.0, throughput_mode=mode, provisioned_throughput=mibps,
                      throughput_changed_at=changed)  # fmt: skip


def test_a_mode_change_or_a_decrease_waits_24_hours() -> None:
    day = 24 * 3600.0
    # Never changed since creation: allowed, and recorded as a change.
    assert check_throughput_change(_fs("bursting", None, None), "provisioned", 8, 1000.0)
    fs = _fs("provisioned", 8, 1000.0)
    # Increases: at any time, and each one starts the 24 hours again.
    assert check_throughput_change(fs, "provisioned", 16, 1001.0)
    assert not check_throughput_change(fs, "provisioned", 8, 1001.0)  # no change at all
    for mode, mibps in (("provisioned", 4), ("bursting", None), ("elastic", None)):
        with pytest.raises(AwsError) as e:
            check_throughput_change(fs, mode, mibps, 1000.0 + day - 1)
        assert e.value.code == "TooManyRequests"
        # EFS's message, saying until when (the knowledge-center note quotes it).
        assert e.value.message == (
            "You have reached the maximum number of throughput mode changes or provisioned "
            "throughput value decreases. Wait until 1970-01-02T00:16:40Z UTC and try again."
        )
    assert check_throughput_change(fs, "bursting", None, 1000.0 + day)
    assert check_throughput_change(fs, "provisioned", 4, 1000.0 + day)


def test_an_increase_starts_the_24_hours_before_a_decrease() -> None:
    # EFS User Guide: after an increase of provisioned throughput, wait at least 24 hours
    # before decreasing it or changing the throughput mode.
    day = 24 * 3600.0
    never = _fs("provisioned", 8, None)  # created provisioned, never changed
    assert check_throughput_change(never, "provisioned", 16, 5000.0)  # recorded: an increase
    raised = _fs("provisioned", 16, 5000.0)
    for mode, mibps in (("provisioned", 8), ("bursting", None), ("elastic", None)):
        with pytest.raises(AwsError) as e:
            check_throughput_change(raised, mode, mibps, 5000.0 + day - 1)
        assert e.value.code == "TooManyRequests"
    assert check_throughput_change(raised, "provisioned", 32, 5000.0 + 1)  # up again: allowed
