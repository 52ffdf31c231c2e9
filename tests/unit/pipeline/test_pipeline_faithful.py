"""The harness keeps the properties the real stack has (the integration suites check them on
Kafka and Postgres): copies of a record change nothing, and a replay republishes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

from harness import Pipeline  # type: ignore[import-not-found]
from segment_calls import group, identify, track  # type: ignore[import-not-found]

from touchline.shared import topics

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


def signing(*, copies: int) -> list[dict[str, object]]:
    signed = track("u-ada", "Contract Signed", at=T0, message_id="signed-1")
    return [
        group("u-ada", "acc-acme", at=T0, name="Acme", arr=1200, lifecycle_stage="onboarding"),
        identify("u-ada", at=T0, email="ada@acme.test", name="Ada", role="admin"),
        *[signed] * copies,
    ]


async def test_a_record_delivered_twice_in_one_batch_is_handled_once_by_every_service() -> None:
    pipe = Pipeline(start=T0)
    await pipe.send(signing(copies=2))  # an SDK retry: the same messageId twice in one request
    await pipe.drain()
    assert len(pipe.bus.messages(topics.EVENTS)) == 4  # ingest passes both on; consumers drop the copy
    assert [m["X-Touchline-Template"] for m in pipe.mails()] == ["onboarding.welcome"]
    assert len(pipe.commands()) == 1
    assert pipe.fates("touch")["skipped", "duplicate"] == 1
    assert pipe.fates("health")["skipped", "duplicate"] == 1


def published(pipe: Pipeline) -> dict[str, list[str]]:
    """The ids of every message the services published, by topic."""
    return {t.name: [e.id for e in pipe.bus.messages(t)] for t in (topics.HEALTH, topics.COMMANDS, topics.OUTCOMES)}


async def test_a_replayed_topic_changes_nothing_and_republishes_nothing() -> None:
    pipe = Pipeline(start=T0)
    await pipe.send(signing(copies=1))
    await pipe.drain()
    before = published(pipe)
    for group_id in ("health", "touch", "notify"):
        pipe.replay(group_id)  # the stored offsets were lost: everything is delivered again
    await pipe.drain()
    assert published(pipe) == before
    assert len(pipe.mails()) == 1 and len(pipe.enrolments("acc-acme")) == 1
    assert pipe.fates("touch")["skipped", "duplicate"] == pipe.fates("touch")["ok", ""]


async def test_the_same_story_publishes_the_same_message_ids() -> None:
    # What makes "sent twice, processed once" safe after a crash between publish and commit
    # (shared/unit_of_work.py): a rerun republishes with the ids of the first run, never new ones.
    runs = []
    for _ in range(2):
        pipe = Pipeline(start=T0)
        await pipe.send(signing(copies=1))
        await pipe.drain()
        runs.append(published(pipe))
    assert runs[0] == runs[1] and all(runs[0].values())
