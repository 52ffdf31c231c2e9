"""What ingest reads from and writes to Kafka (checked against the topic catalogue by a unit test)."""

from touchline.shared import topics

TOPOLOGY = topics.Topology(service="ingest", consumes=(topics.CLOCK,), emits=(topics.EVENTS,))
