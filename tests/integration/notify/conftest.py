"""Fixtures of notify's integration tests; helpers live in notify_harness.py, so test modules
import them by a name no other test folder uses (several conftest modules cannot share one)."""

from notify_harness import notify  # noqa: F401  (a fixture: pytest finds it here)
