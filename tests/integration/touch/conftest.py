"""Fixtures of touch's integration tests; helpers live in touch_harness.py, so test modules
import them by a name no other test folder uses (several conftest modules cannot share one)."""

from touch_harness import touch  # noqa: F401  (a fixture: pytest finds it here)
