"""Prometheus metrics shared by the consumer runner and the services' HTTP layer."""

from prometheus_client import Counter, Histogram

CONSUMED = Counter("touchline_consumed_total", "Records handled and committed", ["group"])
DEAD_LETTERED = Counter("touchline_dead_lettered_total", "Records sent to a DLQ", ["group", "topic"])
CONSUMER_RETRIES = Counter(
    "touchline_consumer_retries_total", "Batch attempts that failed and were retried", ["group", "kind"]
)
HTTP_LATENCY = Histogram("touchline_http_request_seconds", "HTTP request latency", ["service", "route", "status"])
SKIPPED_REPLAYS = Counter("touchline_skipped_replays_total", "Redelivered records skipped: already applied", ["group"])
PRUNED = Counter(
    "touchline_processed_ids_pruned_total", "Processed message ids forgotten after the retention", ["schema"]
)
