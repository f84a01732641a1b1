"""The listener limits' counters with a clock passed in: token buckets, per-IP slots and buckets, deadlines."""

from __future__ import annotations

import pytest

from nutx_cli.core.limits import ConnectionLimiter, ListenerLimits, PerIpBuckets, PerIpSlots, TokenBucket


def test_token_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3, now=0)
    assert [bucket.take(0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait(0) == pytest.approx(0.5)
    assert not bucket.take(0.25)
    assert bucket.take(0.5) and not bucket.take(0.5)
    assert bucket.full(100) and bucket.take(100, 3) and not bucket.take(100)  # never more than the burst


def test_token_bucket_refuses_a_batch_larger_than_what_it_holds_and_spends_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=5, now=0)
    assert not bucket.take(0, 6)
    assert bucket.take(0, 5)


def test_a_clock_going_backwards_does_not_mint_tokens() -> None:
    bucket = TokenBucket(rate=1, burst=1, now=10)
    assert bucket.take(10) and not bucket.take(5) and not bucket.take(10)


def test_per_ip_slots_cap_each_address_separately_and_free_on_release() -> None:
    slots = PerIpSlots(2)
    assert [slots.acquire("a") for _ in range(3)] == [True, True, False]
    assert slots.acquire("b")
    slots.release("a")
    assert slots.count("a") == 1 and slots.acquire("a")
    for _ in range(3):
        slots.release("b")  # a release too many never goes negative or lingers
    assert slots.count("b") == 0 and slots._open.keys() == {"a"}
    unlimited = PerIpSlots(0)
    assert all(unlimited.acquire("a") for _ in range(1000))


def test_per_ip_buckets_limit_each_address_and_forget_refilled_ones() -> None:
    rates = PerIpBuckets(rate=1, burst=2)
    assert rates.take("a", 0) is None and rates.take("a", 0) is None
    assert rates.take("a", 0) == pytest.approx(1.0)
    assert rates.take("b", 0) is None  # another address has its own bucket
    for i in range(1000):
        rates.take(f"scan{i}", 0.5)
    assert len(rates) == 1002
    rates.take("a", 10)  # every bucket refilled long ago: only the one just used is kept
    assert len(rates) == 1
    assert PerIpBuckets(rate=0, burst=1).take("a", 0) is None  # rate 0: no limit


def test_connection_limiter_deadlines_handshake_then_idle() -> None:
    limiter = ConnectionLimiter(ListenerLimits(handshake_timeout=5, idle_timeout=60), opened=100)
    assert limiter.deadline() == 105 and "handshake" in limiter.waiting_for()
    assert limiter.received(0, 104)  # bytes that completed no message change nothing
    assert limiter.deadline() == 105
    assert limiter.received(1, 104)
    assert limiter.deadline() == 164 and "idle" in limiter.waiting_for()
    assert ConnectionLimiter(ListenerLimits(handshake_timeout=0, idle_timeout=0), 0).deadline() is None


def test_connection_limiter_message_rate() -> None:
    limiter = ConnectionLimiter(ListenerLimits(messages_per_second=10, message_burst=20), opened=0)
    assert limiter.received(20, 0)
    assert not limiter.received(1, 0)
    assert limiter.received(10, 1)
    unlimited = ConnectionLimiter(ListenerLimits(messages_per_second=0), opened=0)
    assert unlimited.received(10**6, 0)
