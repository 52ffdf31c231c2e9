"""What notify reads from and writes to Kafka (checked against the topic catalogue by a unit test)."""

from touchline.shared import topics

TOPOLOGY = topics.Topology(
    service="notify", consumes=(topics.COMMANDS, topics.EVENTS, topics.CLOCK), emits=(topics.OUTCOMES,)
)
