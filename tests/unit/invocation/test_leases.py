from __future__ import annotations

import pytest

from shoal.errors import AwsError
from shoal.invocation.leases import ConcurrencyLimiter


def test_reserved_limit_is_exact_and_released() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_minimum=2)
    limiter.set_reserved("f", 2)
    with limiter.lease("f"), limiter.lease("f"):
        with pytest.raises(AwsError) as e, limiter.lease("f"):
            pass
        assert e.value.code == "TooManyRequestsException"
        assert e.value.fields["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert limiter.running["f"] == 2
    assert limiter.running == {}
    with limiter.lease("f"):
        assert limiter.running["f"] == 1


def test_zero_reserved_throttles_everything() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_minimum=2)
    limiter.set_reserved("f", 0)
    with pytest.raises(AwsError), limiter.lease("f"):
        pass
    with limiter.lease("g"):
        pass


def test_unreserved_pool_excludes_reservations() -> None:
    limiter = ConcurrencyLimiter(account_limit=4, unreserved_minimum=1)
    limiter.set_reserved("big", 2)
    assert limiter.unreserved_pool("") == 2
    with limiter.lease("a"), limiter.lease("b"):
        with pytest.raises(AwsError) as e, limiter.lease("c"):
            pass
        assert e.value.fields["Reason"] == "ConcurrentInvocationLimitExceeded"
        with limiter.lease("big"):  # its reservation is its own
            pass


def test_lease_released_when_the_invocation_raises() -> None:
    limiter = ConcurrencyLimiter(account_limit=1, unreserved_minimum=0)
    with pytest.raises(RuntimeError), limiter.lease("f"):
        raise RuntimeError("crash")
    assert limiter.running_unreserved.get("", 0) == 0
    with limiter.lease("f"):
        pass


def test_can_reserve_keeps_the_unreserved_minimum() -> None:
    limiter = ConcurrencyLimiter(account_limit=10, unreserved_minimum=3)
    assert limiter.can_reserve("f", 7)
    assert not limiter.can_reserve("f", 8)
    limiter.set_reserved("g", 5)
    assert limiter.can_reserve("f", 2)
    assert not limiter.can_reserve("f", 3)


def test_the_account_limit_is_per_region() -> None:
    limiter = ConcurrencyLimiter(account_limit=2, unreserved_minimum=1)
    eu = "arn:aws:lambda:eu-west-1:123456789012:function:"
    us = "arn:aws:lambda:us-east-1:123456789012:function:"
    limiter.set_reserved(eu + "big", 1)
    assert limiter.unreserved_pool("eu-west-1") == 1
    assert limiter.unreserved_pool("us-east-1") == 2
    assert limiter.unreserved_available(region="us-east-1") == 2
    assert not limiter.can_reserve(eu + "f", 1)  # eu-west-1 keeps its minimum
    assert limiter.can_reserve(us + "f", 1)
    with limiter.lease(eu + "a"):
        with pytest.raises(AwsError), limiter.lease(eu + "b"):
            pass
        with limiter.lease(us + "a"), limiter.lease(us + "b"):  # another region's pool
            pass
    limiter.set_reserved(eu + "big", None)
    assert limiter.unreserved_pool("eu-west-1") == 2
