"""What touch reads from and writes to Kafka (checked against the topic catalogue by a unit test)."""

from touchline.shared import topics

TOPOLOGY = topics.Topology(
    service="touch",
    consumes=(topics.EVENTS, topics.HEALTH, topics.OUTCOMES, topics.CLOCK),
    emits=(topics.COMMANDS,),
)
