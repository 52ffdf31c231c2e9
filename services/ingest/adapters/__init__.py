"""Thin adapters of the ingest ports: Postgres (identities, parked events) and Kafka (events)."""
