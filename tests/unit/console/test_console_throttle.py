from __future__ import annotations

import pytest

from touchline.console.throttle import (
    Failures,
    InMemoryThrottleStore,
    LoginThrottle,
    ThrottlePolicy,
    keys_for,
    retry_after,
)

POLICY = ThrottlePolicy(pair_free=3, address_free=20, account_free=10, base_delay_s=1.0, max_delay_s=900.0)


def test_delays_start_after_the_free_failures_and_double_up_to_the_cap() -> None:
    assert [POLICY.delay_after(n, "pair") for n in range(1, 8)] == [0, 0, 0, 1, 2, 4, 8]
    assert POLICY.delay_after(10_000, "pair") == 900.0
    assert POLICY.delay_after(20, "address") == 0 and POLICY.delay_after(21, "address") == 1


def test_the_wait_is_the_longest_of_the_keys_that_apply_and_ends_by_itself() -> None:
    keys = keys_for("Aiko@Example.com ", "10.0.0.9")
    counters = {("pair", keys["pair"]): Failures(count=5, last_at=100.0)}
    wait = retry_after(POLICY, counters, email="aiko@example.com", address="10.0.0.9", known_device=False, now=100.5)
    assert wait == pytest.approx(1.5)
    assert retry_after(POLICY, counters, email="aiko@example.com", address="10.0.0.9", known_device=False, now=103) == 0


def test_a_known_device_skips_the_accounts_delay_but_not_its_own_addresses() -> None:
    keys = keys_for("aiko@example.com", "10.0.0.9")
    counters = {("account", keys["account"]): Failures(count=30, last_at=100.0)}
    args = {"email": "aiko@example.com", "address": "10.0.0.9", "now": 101.0}
    assert retry_after(POLICY, counters, known_device=False, **args) > 0
    assert retry_after(POLICY, counters, known_device=True, **args) == 0
    counters[("address", keys["address"])] = Failures(count=30, last_at=100.0)
    assert retry_after(POLICY, counters, known_device=True, **args) > 0


def test_counters_idle_past_the_forget_time_no_longer_delay() -> None:
    policy = ThrottlePolicy(max_delay_s=86_400.0, forget_after_s=3600.0)
    counters = {("account", "aiko@example.com"): Failures(count=50, last_at=0.0)}
    args = {"email": "aiko@example.com", "address": "a", "known_device": False}
    assert retry_after(policy, counters, now=3600.0, **args) > 0
    assert retry_after(policy, counters, now=3600.1, **args) == 0


async def attempt(throttle: LoginThrottle, email: str, address: str, *, now: float, right: bool = False) -> float:
    """One sign-in as the view makes it: begin, then the outcome when allowed."""
    wait = await throttle.begin(email=email, address=address, known_device=False, now=now)
    if wait == 0:
        if right:
            await throttle.succeeded(email=email, address=address)
        else:
            await throttle.failed(email=email, address=address, now=now)
    return wait


async def test_an_attackers_wrong_passwords_do_not_delay_the_csm_from_another_address() -> None:
    throttle = LoginThrottle(InMemoryThrottleStore(), POLICY)
    waits = [await attempt(throttle, "aiko@example.com", "6.6.6.6", now=100.0) for _ in range(6)]
    assert waits[:4] == [0, 0, 0, 0] and waits[4] > 0 and waits[5] > 0
    assert await attempt(throttle, "aiko@example.com", "10.0.0.9", now=100.0, right=True) == 0


async def test_spraying_one_password_over_many_emails_from_one_address_is_slowed() -> None:
    throttle = LoginThrottle(InMemoryThrottleStore(), POLICY)
    waits = [await attempt(throttle, f"csm{i}@example.com", "6.6.6.6", now=100.0) for i in range(25)]
    assert waits[:21] == [0] * 21 and all(w > 0 for w in waits[21:])
    assert await attempt(throttle, "new@example.com", "10.0.0.9", now=100.0) == 0


async def test_a_burst_of_parallel_guesses_is_counted_before_any_password_is_checked() -> None:
    throttle = LoginThrottle(InMemoryThrottleStore(), POLICY)
    begun = [
        await throttle.begin(email=f"csm{i}@example.com", address="6.6.6.6", known_device=False, now=100.0)
        for i in range(40)
    ]
    assert begun.count(0) == POLICY.address_free + 1  # the rest wait, though no outcome is known yet


async def test_a_refused_attempt_is_taken_back_and_does_not_lengthen_the_wait() -> None:
    store = InMemoryThrottleStore()
    throttle = LoginThrottle(store, POLICY)
    for _ in range(5):
        await attempt(throttle, "aiko@example.com", "6.6.6.6", now=100.0)
    counted = dict(store.counters)
    for _ in range(10):
        assert await attempt(throttle, "aiko@example.com", "6.6.6.6", now=100.5) > 0
    assert store.counters == counted


async def test_the_right_password_ends_the_emails_delays_and_keeps_the_addresss_wrong_count() -> None:
    store = InMemoryThrottleStore()
    throttle = LoginThrottle(store, POLICY)
    for _ in range(3):
        await attempt(throttle, "aiko@example.com", "10.0.0.9", now=100.0)
    await attempt(throttle, "aiko@example.com", "10.0.0.9", now=101.0, right=True)
    assert store.counters == {("address", "10.0.0.9"): Failures(count=3, last_at=100.0)}


async def test_an_abandoned_attempt_is_taken_back() -> None:
    store = InMemoryThrottleStore()
    throttle = LoginThrottle(store, POLICY)
    await throttle.begin(email="aiko@example.com", address="10.0.0.9", known_device=False, now=100.0)
    await throttle.abandoned(email="aiko@example.com", address="10.0.0.9")
    assert {key: f.count for key, f in store.counters.items()} == dict.fromkeys(store.counters, 0)


async def test_the_memory_store_restarts_a_forgotten_counter_and_drops_idle_ones() -> None:
    store = InMemoryThrottleStore()
    assert await store.reserve([("account", "a")], now=0.0, forget_after_s=10) == {
        ("account", "a"): Failures(count=0, last_at=0.0)
    }
    await store.failed([("account", "a")], now=0.0, forget_after_s=10)
    await store.reserve([("account", "a")], now=5.0, forget_after_s=10)
    await store.failed([("account", "a")], now=5.0, forget_after_s=10)
    assert store.counters[("account", "a")] == Failures(count=2, last_at=5.0)
    before = await store.reserve([("account", "a")], now=100.0, forget_after_s=10)
    assert before[("account", "a")].count == 0
    await store.reserve([("account", "c")], now=50.0, forget_after_s=10)
    await store.failed([("account", "c")], now=50.0, forget_after_s=10)
    await store.reserve([("account", "b")], now=100.0, forget_after_s=10)
    await store.failed([("account", "b")], now=100.0, forget_after_s=10)
    assert store.counters[("account", "a")] == Failures(count=1, last_at=100.0)
    assert ("account", "c") not in store.counters


def test_a_free_attempt_never_waits_even_when_the_stored_time_rounds_past_now() -> None:
    counters = {("address", "a"): Failures(count=2, last_at=100.0000005)}
    assert retry_after(POLICY, counters, email="x@example.com", address="a", known_device=False, now=100.0) == 0
