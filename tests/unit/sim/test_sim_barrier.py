import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, GroupLoadInProgressError, NotCoordinatorForGroupError

from touchline.shared.settings import CommonSettings
from touchline.sim.barrier import Barrier, lag_of
from touchline.sim.client import SimulationError

E0, E1, O0 = TopicPartition("events", 0), TopicPartition("events", 1), TopicPartition("outcomes", 0)


def test_a_group_at_the_end_of_every_partition_has_no_lag():
    assert lag_of(end={E0: 5, E1: 3}, committed={E0: 5, E1: 3}, subscribed={"events"}) == {}


def test_uncommitted_partitions_with_records_count_as_behind():
    assert lag_of(end={E0: 5, E1: 3}, committed={E0: 5}, subscribed={"events"}) == {E1: 3}


def test_topics_the_group_does_not_read_are_ignored():
    assert lag_of(end={E0: 5, O0: 9}, committed={E0: 5}, subscribed={"events"}) == {}


def test_a_minus_one_commit_means_nothing_processed():
    assert lag_of(end={E0: 4}, committed={E0: -1}, subscribed={"events"}) == {E0: 4}


class ScriptedBarrier(Barrier):
    """The drain loop over scripted (lag, committed total) checks instead of a broker."""

    def __init__(self, script, *, quiet_s=0.0, due=None):
        super().__init__(CommonSettings(env="test"), client=None, quiet_s=quiet_s)  # type: ignore[arg-type]
        self.script = list(script)
        self.due = list(due or [{}])  # what busy() answers, one per check once drained

    async def busy(self):
        return self.due.pop(0) if len(self.due) > 1 else self.due[0]

    async def _groups(self):
        return []

    async def lag(self):
        lag, committed = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        self.committed_total = committed
        return lag


async def test_drain_returns_once_nothing_is_behind_for_the_quiet_window():
    barrier = ScriptedBarrier([({"touch": {E0: 3}}, 1), ({}, 4), ({}, 4)])
    report = await barrier.drain(stall_s=5)
    assert report.checks >= 2


async def test_a_consumer_that_makes_no_progress_fails_the_drain_naming_its_group_and_topics():
    barrier = ScriptedBarrier([({"touch": {E0: 3, E1: 2, O0: 4}}, 1)])
    with pytest.raises(SimulationError, match=r"no progress for 0s.*'touch': \{'events': 5, 'outcomes': 4\}"):
        await barrier.drain(stall_s=0.3)


async def test_a_slow_but_moving_backlog_is_waited_for_past_the_stall_bound():
    script = [({"touch": {E0: 10 - n}}, n) for n in range(8)] + [({}, 10), ({}, 10)]
    # Checks are 0.1 s apart: ~0.8 s of shrinking backlog against a 0.35 s stall bound.
    report = await ScriptedBarrier(script).drain(stall_s=0.35)
    assert report.waited_s >= 0.7


async def test_the_overall_bound_fails_even_a_moving_backlog():
    script = [({"touch": {E0: 1000 - n}}, n) for n in range(1000)]
    with pytest.raises(SimulationError, match="not drained after 0s"):
        await ScriptedBarrier(script).drain(stall_s=5, timeout=0.3)


async def test_drain_waits_for_work_due_after_the_lag_is_gone():
    due = [{"touch": {"timers_due": 1}}, {"notify": {"mails": 2}}, None, {}, {}]
    barrier = ScriptedBarrier([({}, 4)], due=due)
    report = await barrier.drain(stall_s=5)
    assert report.checks >= 5 and barrier.due == [{}]


async def test_due_work_that_is_never_carried_out_fails_the_drain_naming_the_service():
    barrier = ScriptedBarrier([({}, 4)], due=[{"notify": {"mails": 3}}])
    with pytest.raises(SimulationError, match=r"no progress for 0s; work due .*'notify': \{'mails': 3\}"):
        await barrier.drain(stall_s=0.3)


async def test_a_service_that_never_answers_fails_the_drain_saying_so():
    barrier = ScriptedBarrier([({}, 4)], due=[None])
    with pytest.raises(SimulationError, match="does not answer GET /pending"):
        await barrier.drain(stall_s=0.3)


class RestartedBrokerBarrier(ScriptedBarrier):
    """The first checks meet a group coordinator still loading offsets after a broker restart."""

    def __init__(self, script, *, failures):
        super().__init__(script)
        self.failures = list(failures)

    async def lag(self):
        if self.failures:
            raise self.failures.pop(0)
        return await super().lag()


async def test_drain_asks_again_while_the_coordinator_loads_groups_after_a_broker_restart():
    barrier = RestartedBrokerBarrier(
        [({}, 4)], failures=[GroupLoadInProgressError(), NotCoordinatorForGroupError(), GroupLoadInProgressError()]
    )
    report = await barrier.drain(stall_s=30)
    assert report.checks >= 4 and not barrier.failures


async def test_a_coordinator_that_never_loads_fails_the_drain_naming_the_error():
    barrier = RestartedBrokerBarrier([({}, 4)], failures=[GroupLoadInProgressError()] * 1000)
    with pytest.raises(SimulationError, match=r"offsets unreadable: .*GroupLoadInProgress"):
        await barrier.drain(stall_s=0.3)


async def test_a_broker_error_that_retrying_cannot_fix_is_raised():
    barrier = RestartedBrokerBarrier([({}, 4)], failures=[GroupAuthorizationFailedError()])
    with pytest.raises(GroupAuthorizationFailedError):
        await barrier.drain(stall_s=30)
