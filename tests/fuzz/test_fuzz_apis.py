"""Schemathesis against every service's OpenAPI: no 5xx, and every answer is one its spec documents
(status code, content type, headers, body schema). Derandomised: the same examples every run.

Each operation gets ``TOUCHLINE_FUZZ_EXAMPLES`` examples that fit its schema and as many that do
not (``make fuzz`` runs more). Failures are collected over every operation, then reported at once
(first failure of each operation and check), rather than stopping at the first."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import schemathesis
from fuzz_stack import CSM_EMAIL, SERVICES, WRITE_KEY, Stack
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from touchline.console.auth import SessionSigner
from touchline.console.settings import ConsoleSettings
from touchline.console.views.common import SESSION_COOKIE
from touchline.shared.settings import CommonSettings

EXAMPLES = int(os.environ.get("TOUCHLINE_FUZZ_EXAMPLES", "25"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def _credentials(service: str) -> dict[str, Any]:
    if service == "ingest":
        return {"auth": (WRITE_KEY, "")}
    if service == "console":
        # Signed in, so the pages are fuzzed and not only the redirect to /login (actions still
        # need the CSRF token of the session: without it they answer 403, as documented).
        signer = SessionSigner(ConsoleSettings().session_secret.get_secret_value().encode(), max_age_seconds=3600)
        return {"cookies": {SESSION_COOKIE: signer.issue(CSM_EMAIL, now=time.time())}}
    return {"headers": {"Authorization": f"Bearer {CommonSettings(env='test').api_token.get_secret_value()}"}}


def _checks(service: str) -> list[Any]:
    if service != "ingest":
        return CHECKS
    # What ingest's spec calls invalid, ingest refuses. The converse cannot be held: a schema says
    # nothing of a time's age (older than TOUCHLINE_INGEST_MAX_EVENT_AGE_DAYS is refused) nor of a
    # NUL or the nesting deep inside free-form properties; the spec's descriptions say so instead.
    return [*CHECKS, schemathesis.checks.negative_data_rejection]


def fuzz_operation(
    operation: Any, mode: GenerationMode, *, base_url: str, credentials: dict[str, Any], checks: list[Any]
) -> list[str]:
    """Run the examples of one operation in one mode; the distinct failures found."""
    found: dict[str, str] = {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(base_url=base_url, checks=checks, **credentials)
        except schemathesis.checks.FailureGroup as failures:
            for failure in failures.exceptions:
                key = f"{operation.label} [{mode}] {failure.title}"
                found.setdefault(key, f"{key}\n{str(failures)[:1500]}")

    try:
        run()
    except Unsatisfiable:
        if mode == GenerationMode.POSITIVE:
            raise
        # nothing in the operation can be sent wrong (no parameters, no body): nothing to negate
    return list(found.values())


# Schemathesis' own strategies use `random` (its authors' choice, harmless under derandomize).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_is_one_the_openapi_documents(service: str, fuzz_stack: Stack) -> None:
    base_url = fuzz_stack.urls[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    started, failures, operations = time.monotonic(), [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz_operation(
                operation, mode, base_url=base_url, credentials=_credentials(service), checks=_checks(service)
            )
    print(
        f"\nfuzz {service}: {operations} operations x {EXAMPLES} examples x 2 modes in {time.monotonic() - started:.1f} s"
    )
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)
