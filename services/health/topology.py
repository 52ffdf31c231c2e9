"""What health reads from and writes to Kafka (checked against the topic catalogue by a unit test)."""

from touchline.shared import topics

TOPOLOGY = topics.Topology(
    service="health", consumes=(topics.EVENTS, topics.OUTCOMES, topics.CLOCK), emits=(topics.HEALTH,)
)
