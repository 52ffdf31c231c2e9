"""create_topics returns only once every new partition has a leader (real broker)."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from touchline.shared import topics
from touchline.shared.kafka import create_topics
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.testing import delete_topics


async def test_every_partition_of_the_created_topics_has_a_leader_when_create_topics_returns(
    common: CommonSettings,
) -> None:
    prefix = f"r{uuid.uuid4().hex[:8]}."
    created = await create_topics(common.kafka_bootstrap_servers, prefix=prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(created)
    finally:
        await admin.close()
        await delete_topics(common.kafka_bootstrap_servers, prefix)
    assert sorted(t["topic"] for t in described) == sorted(created)
    assert len(created) == 2 * len(topics.ALL)
    leaders = [p["leader"] for t in described for p in t["partitions"]]
    assert len(leaders) == sum(t.partitions + 1 for t in topics.ALL)
    assert min(leaders) >= 0
