from aiokafka.partitioner import DefaultPartitioner

from touchline.ingest.adapters.kafka import key_hash


def test_an_account_lands_on_the_partition_aiokafkas_default_partitioner_picks() -> None:
    keys = [f"acct-{i}".encode() for i in range(500)] + [b"", "アカウント".encode(), b"x" * 300]
    for count in (1, 3, 6, 12):
        partitions = list(range(count))
        for key in keys:
            assert partitions[key_hash(key) % count] == DefaultPartitioner()(key, partitions, partitions)
