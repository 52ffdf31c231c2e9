"""Login throttling: slow password guessing down without letting a stranger lock a CSM out.

Wrong passwords are counted under three keys, each delaying further attempts exponentially
once its free failures are used (1 s, 2 s, 4 s ... up to ``max_delay_s``), never locking:

- ``pair`` (email + client address): someone guessing one CSM's password from one address is
  slowed down after a few tries; the CSM signing in from elsewhere is not.
- ``address`` (client address, any email): spraying one password over many emails is slowed.
- ``account`` (email, any address): guessing from many addresses is slowed too, but a browser
  the CSM signed in from before carries a signed device cookie and skips this key, so a
  distributed attack cannot keep the rightful user out of a browser they already use.

Counters live in a store shared by every console replica (Postgres in production) and are
forgotten after ``forget_after_s`` without a failure. ``retry_after`` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from touchline.shared.retry import backoff

Scope = Literal["pair", "address", "account"]
Key = tuple[Scope, str]
# Longer keys are cut: an attacker chooses the email, and a key only has to tell emails apart.
MAX_KEY_CHARS = 320


@dataclass(frozen=True)
class Failures:
    count: int
    last_at: float  # epoch seconds of the latest wrong password


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_free: int = 3
    address_free: int = 20
    account_free: int = 10
    base_delay_s: float = 1.0
    max_delay_s: float = 900.0
    forget_after_s: float = 3600.0

    def free(self, scope: Scope) -> int:
        return {"pair": self.pair_free, "address": self.address_free, "account": self.account_free}[scope]

    def delay_after(self, failures: int, scope: Scope) -> float:
        """Seconds a key must rest after its latest failure (0 while free failures remain)."""
        over = failures - self.free(scope)
        if over <= 0:
            return 0.0
        return backoff(over, base=self.base_delay_s, cap=self.max_delay_s)


def keys_for(email: str, address: str) -> dict[Scope, str]:
    mail = email.strip().lower()[:MAX_KEY_CHARS]
    where = address[:MAX_KEY_CHARS]
    return {"pair": f"{mail} {where}", "address": where, "account": mail}


def retry_after(
    policy: ThrottlePolicy,
    counters: Mapping[Key, Failures],
    *,
    email: str,
    address: str,
    known_device: bool,
    now: float,
) -> float:
    """Seconds until this email may be tried from this address (0 = now)."""
    waits = [0.0]
    for scope, key in keys_for(email, address).items():
        if scope == "account" and known_device:
            continue
        failures = counters.get((scope, key))
        if failures is None or now - failures.last_at > policy.forget_after_s:
            continue
        delay = policy.delay_after(failures.count, scope)
        if delay > 0:  # (a stored time may round a microsecond past now: no delay is no wait)
            waits.append(failures.last_at + delay - now)
    return max(waits)


class ThrottleStore(Protocol):
    """Counters of attempts: an attempt is counted before its password is checked, so concurrent
    attempts see each other (checking first and counting after would let a burst of parallel
    guesses all pass the check)."""

    async def reserve(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> dict[Key, Failures]:
        """Count one more attempt under each key, atomically; return each key's counter as it was
        before (count 0 when new or forgotten)."""

    async def release(self, keys: Sequence[Key]) -> None:
        """Take one counted attempt back (it was refused, or the password was right)."""

    async def failed(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> None:
        """The counted attempt was a wrong password: its delay runs from ``now``."""

    async def clear(self, keys: Sequence[Key]) -> None: ...


class InMemoryThrottleStore:
    """One process's counters: unit tests and `touchline console demo` (no database)."""

    def __init__(self) -> None:
        self.counters: dict[Key, Failures] = {}

    async def reserve(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> dict[Key, Failures]:
        before = {}
        for key in keys:
            known = self.counters.get(key)
            if known is None or now - known.last_at > forget_after_s:
                known = Failures(count=0, last_at=now)
            before[key] = known
            self.counters[key] = Failures(count=known.count + 1, last_at=known.last_at)
        return before

    async def release(self, keys: Sequence[Key]) -> None:
        for key in keys:
            known = self.counters.get(key)
            if known is not None:
                self.counters[key] = Failures(count=max(known.count - 1, 0), last_at=known.last_at)

    async def failed(self, keys: Sequence[Key], *, now: float, forget_after_s: float) -> None:
        self.counters = {k: v for k, v in self.counters.items() if now - v.last_at <= forget_after_s or k in keys}
        for key in keys:
            known = self.counters.get(key, Failures(count=1, last_at=now))
            self.counters[key] = Failures(count=known.count, last_at=max(known.last_at, now))

    async def clear(self, keys: Sequence[Key]) -> None:
        for key in keys:
            self.counters.pop(key, None)


class LoginThrottle:
    """``begin`` before checking a password, then exactly one of ``failed`` / ``succeeded`` /
    ``abandoned`` when it was allowed."""

    def __init__(self, store: ThrottleStore, policy: ThrottlePolicy | None = None) -> None:
        self.store = store
        self.policy = policy or ThrottlePolicy()

    async def begin(self, *, email: str, address: str, known_device: bool, now: float) -> float:
        """Seconds to wait before this email may be tried from this address; 0 = go ahead (the
        attempt is then counted until its outcome is reported)."""
        keys = list(keys_for(email, address).items())
        before = await self.store.reserve(keys, now=now, forget_after_s=self.policy.forget_after_s)
        wait = retry_after(self.policy, before, email=email, address=address, known_device=known_device, now=now)
        if wait > 0:
            await self.store.release(keys)
        return wait

    async def failed(self, *, email: str, address: str, now: float) -> None:
        keys = list(keys_for(email, address).items())
        await self.store.failed(keys, now=now, forget_after_s=self.policy.forget_after_s)

    async def succeeded(self, *, email: str, address: str) -> None:
        """The right password ends this email's delays; the address's count of wrong passwords
        (spraying) stays as it was before this attempt."""
        keys = keys_for(email, address)
        await self.store.clear([("pair", keys["pair"]), ("account", keys["account"])])
        await self.store.release([("address", keys["address"])])

    async def abandoned(self, *, email: str, address: str) -> None:
        """The attempt ended without an answer (an error): take it back."""
        await self.store.release(list(keys_for(email, address).items()))
