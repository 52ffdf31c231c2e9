from aiokafka import TopicPartition

from touchline.sim.barrier import lag_of

E0, E1, O0 = TopicPartition("events", 0), TopicPartition("events", 1), TopicPartition("outcomes", 0)


def test_a_group_at_the_end_of_every_partition_has_no_lag():
    assert lag_of(end={E0: 5, E1: 3}, committed={E0: 5, E1: 3}, subscribed={"events"}) == {}


def test_uncommitted_partitions_with_records_count_as_behind():
    assert lag_of(end={E0: 5, E1: 3}, committed={E0: 5}, subscribed={"events"}) == {E1: 3}


def test_topics_the_group_does_not_read_are_ignored():
    assert lag_of(end={E0: 5, O0: 9}, committed={E0: 5}, subscribed={"events"}) == {}


def test_a_minus_one_commit_means_nothing_processed():
    assert lag_of(end={E0: 4}, committed={E0: -1}, subscribed={"events"}) == {E0: 4}
