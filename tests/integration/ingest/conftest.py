"""Fixtures of ingest's integration tests; helpers live in ingest_harness.py, so test modules
import them by a name no other test folder uses (several conftest modules cannot share one)."""

from ingest_harness import ingest  # noqa: F401  (a fixture: pytest finds it here)
