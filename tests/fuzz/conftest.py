"""Fixtures of the fuzzing suite; the stack itself lives in fuzz_stack.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_stack import FuzzStack, Stack


@pytest.fixture(scope="session")
def fuzz_stack(infra) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    running = FuzzStack(infra.bootstrap_servers, infra.database_url)
    try:
        yield running.start()
    finally:
        running.stop()
