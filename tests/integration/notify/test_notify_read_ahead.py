"""The consumer reads a batch's directory ahead (PgRepository.read_ahead): the repository must then
answer exactly what it answers without reading ahead, also after the batch itself changed the
directory. Checked over generated directories on the real Postgres."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from notify_harness import Notify

from touchline.notify.adapters.pg_repository import PgRepository


class Rollback(Exception):
    pass


async def _answers(repo: PgRepository, accounts: list[str], addresses: list[str]) -> list[object]:
    found: list[object] = []
    for account in accounts:
        found += [await repo.get_account(account), await repo.list_contacts(account)]
    found.append(await repo.unsubscribed(addresses))
    found.append(await repo.unsubscribed(addresses[:1]))
    return found


@pytest.mark.parametrize("seed", range(8))
async def test_read_ahead_answers_what_the_queries_answer_before_and_after_the_batch_writes(notify: Notify, seed: int):
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    accounts = [str(uuid.uuid4()) for _ in range(5)]
    addresses = []
    try:
        async with notify.state.engine.begin() as conn:
            setup = PgRepository(conn)
            for account in accounts[:4]:  # the last is unknown
                if rnd.random() < 0.7:
                    traits = {"name": rnd.choice([None, "Acme"]), "locale": rnd.choice([None, "ja", "en"])}
                    await setup.upsert_account(account_id=account, traits=traits, now=now)
                for n in range(rnd.randint(0, 3)):
                    address = rnd.choice([None, f"{account[:6]}.{n}@Customer.test"])
                    traits = {"email": address, "name": rnd.choice([None, "Ann"]), "role": rnd.choice([None, "admin"])}
                    await setup.upsert_contact(account_id=account, user_id=f"u{n}", traits=traits, now=now)
                    if address:
                        addresses.append(address)
                        if rnd.random() < 0.4:
                            await setup.unsubscribe(email=address, account_id=account, via="test", now=now)
            addresses.append("nobody@else.test")

            ahead, plain = PgRepository(conn), PgRepository(conn)
            await ahead.read_ahead(rnd.sample(accounts, k=rnd.randint(1, len(accounts))))
            assert await _answers(ahead, accounts, addresses) == await _answers(plain, accounts, addresses)

            # The batch changes the directory: a new contact, an account's traits, an unsubscribe.
            target = rnd.choice(accounts)
            fresh = f"new.{seed}@customer.test"
            await ahead.upsert_contact(account_id=target, user_id="new", traits={"email": fresh}, now=now)
            await ahead.upsert_account(account_id=rnd.choice(accounts), traits={"name": "Renamed"}, now=now)
            await ahead.unsubscribe(email=rnd.choice(addresses), account_id=target, via="test", now=now)
            after = [*addresses, fresh]
            assert await _answers(ahead, accounts, after) == await _answers(plain, accounts, after)
            raise Rollback
    except Rollback:
        pass
