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


async def test_an_attackers_wrong_passwords_do_not_delay_the_csm_from_another_address() -> None:
    throttle = LoginThrottle(InMemoryThrottleStore(), POLICY)
    for i in range(8):
        await throttle.failed(email="aiko@example.com", address="6.6.6.6", now=100.0 + i)
    assert await throttle.retry_after(email="aiko@example.com", address="6.6.6.6", known_device=False, now=108) > 0
    assert await throttle.retry_after(email="aiko@example.com", address="10.0.0.9", known_device=False, now=108) == 0


async def test_spraying_one_password_over_many_emails_from_one_address_is_slowed() -> None:
    throttle = LoginThrottle(InMemoryThrottleStore(), POLICY)
    for i in range(25):
        email = f"csm{i}@example.com"
        if await throttle.retry_after(email=email, address="6.6.6.6", known_device=False, now=100.0) > 0:
            break
        await throttle.failed(email=email, address="6.6.6.6", now=100.0)
    else:
        pytest.fail("25 emails sprayed from one address and never delayed")
    assert i == 21
    assert await throttle.retry_after(email="new@example.com", address="10.0.0.9", known_device=False, now=100.0) == 0


async def test_the_right_password_ends_the_emails_delays_but_not_the_addresss_spraying_count() -> None:
    store = InMemoryThrottleStore()
    throttle = LoginThrottle(store, POLICY)
    for i in range(5):
        await throttle.failed(email="aiko@example.com", address="10.0.0.9", now=100.0 + i)
    await throttle.succeeded(email="aiko@example.com", address="10.0.0.9")
    assert set(store.counters) == {("address", "10.0.0.9")}


async def test_the_memory_store_restarts_a_forgotten_counter_and_drops_idle_ones() -> None:
    store = InMemoryThrottleStore()
    await store.failed([("account", "a")], now=0.0, forget_after_s=10)
    await store.failed([("account", "a")], now=5.0, forget_after_s=10)
    assert store.counters[("account", "a")] == Failures(count=2, last_at=5.0)
    await store.failed([("account", "b")], now=100.0, forget_after_s=10)
    assert ("account", "a") not in store.counters
