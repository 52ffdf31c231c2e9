"""Ingest's Prometheus metrics (request latency uses the shared touchline_http_request_seconds)."""

from prometheus_client import Counter, Histogram

ACCEPTED = Counter("touchline_ingest_accepted_total", "Events acknowledged to the client", ["source", "kind"])
REJECTED = Counter("touchline_ingest_rejected_total", "Events or requests refused, by reason", ["reason"])
PARKED = Counter("touchline_ingest_parked_total", "Events parked until their user is grouped")
RELEASED = Counter("touchline_ingest_released_total", "Parked events published once their user was grouped")
PRODUCER_LATENCY = Histogram(
    "touchline_ingest_producer_seconds",
    "Time for Kafka to acknowledge one request's events",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
