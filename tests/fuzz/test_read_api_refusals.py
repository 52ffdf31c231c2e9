"""Hostile input to the read APIs (issue 13, defect 6): a 4xx naming the parameter, never a 500;
and every 422 in FastAPI's list shape (defect 7), whether FastAPI or a route found the problem."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fuzz_stack import Stack

from touchline.shared.settings import CommonSettings

BEARER = {"Authorization": f"Bearer {CommonSettings(env='test').api_token.get_secret_value()}"}


@pytest.fixture(scope="module")
def http(fuzz_stack: Stack) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=url, headers=BEARER) for name, url in fuzz_stack.urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def named(response: httpx.Response, where: str, name: str) -> str:
    """The message of the 422 naming ``where``.``name`` (fails unless there is exactly that shape)."""
    assert response.status_code == 422, response.text
    [problem] = [p for p in response.json()["detail"] if p["loc"][:2] == [where, name]]
    return str(problem["msg"])


@pytest.mark.parametrize(
    ("service", "path", "where", "name"),
    [
        ("health", "/v1/accounts/acme%00", "path", "account_id"),
        ("health", "/v1/accounts/acme%00/history", "path", "account_id"),
        ("health", "/v1/accounts?tier=t%00", "query", "tier"),
        ("touch", "/v1/accounts/acme%00", "path", "account_id"),
        ("touch", "/v1/accounts/acme%00/tier", "path", "account_id"),
        ("touch", "/v1/accounts?owner=%00", "query", "owner"),
        ("touch", "/v1/enrolments/e%00", "path", "enrolment_id"),
        ("notify", "/v1/accounts/acme%00/timeline", "path", "account_id"),
        ("notify", "/v1/tasks?owner=a%00", "query", "owner"),
        ("notify", "/v1/tasks?account_id=%00", "query", "account_id"),
        ("notify", "/v1/tasks/t%00", "path", "task_id"),
        ("notify", "/v1/answers?account_id=%00", "query", "account_id"),
    ],
)
def test_a_nul_in_a_path_or_query_is_a_422_naming_the_parameter(
    http: dict[str, httpx.Client], service: str, path: str, where: str, name: str
) -> None:
    assert "NUL" in named(http[service].get(path), where, name)


@pytest.mark.parametrize(
    ("service", "path"), [("health", "/v1/accounts"), ("touch", "/v1/accounts"), ("notify", "/v1/answers")]
)
@pytest.mark.parametrize("offset", [2**63, 2**64, 10**30])
def test_an_offset_beyond_64_bits_is_a_422_naming_offset(
    http: dict[str, httpx.Client], service: str, path: str, offset: int
) -> None:
    assert named(http[service].get(path, params={"offset": offset}), "query", "offset")


def test_an_offset_up_to_2_to_the_53_is_served(http: dict[str, httpx.Client]) -> None:
    answer = http["health"].get("/v1/accounts", params={"offset": 2**53})
    assert answer.status_code == 200 and answer.json()["accounts"] == []


@pytest.mark.parametrize("days", [1e308, 36_501, 10**20])
def test_a_huge_override_expiry_is_a_422_naming_expires_in_days(http: dict[str, httpx.Client], days: float) -> None:
    body = {"kind": "score", "score": 50, "reason": "r", "expires_in_days": days}
    answer = http["health"].put("/v1/accounts/acme/overrides", json=body)
    assert named(answer, "body", "expires_in_days")


@pytest.mark.parametrize("horizons", ["x", "0", "99999999999999999999", "30,-1"])
def test_trust_horizons_out_of_range_are_a_422_naming_horizons(http: dict[str, httpx.Client], horizons: str) -> None:
    assert named(http["health"].get("/v1/trust", params={"horizons": horizons}), "query", "horizons")


def test_clearing_a_measure_pin_without_its_name_is_a_422_naming_measure(http: dict[str, httpx.Client]) -> None:
    assert named(http["health"].delete("/v1/accounts/acme/overrides/measure"), "query", "measure")


def test_an_unknown_playbook_is_a_422_naming_the_body_field(http: dict[str, httpx.Client]) -> None:
    answer = http["touch"].post("/v1/accounts/acme/enrolments", json={"playbook": "nope"})
    assert "unknown playbook 'nope'" in named(answer, "body", "playbook")


def test_a_snooze_without_a_time_zone_is_a_422_naming_until(http: dict[str, httpx.Client]) -> None:
    answer = http["notify"].post("/v1/tasks/t-1/snooze", json={"until": "2030-01-01T00:00:00"})
    assert "time zone" in named(answer, "body", "until")


def test_a_bad_answers_query_is_a_422_naming_the_parameter(http: dict[str, httpx.Client]) -> None:
    assert "time zone" in named(
        http["notify"].get("/v1/answers", params={"since": "2030-01-01T00:00"}), "query", "since"
    )


def test_other_errors_carry_a_string_detail(http: dict[str, httpx.Client]) -> None:
    missing = http["health"].get("/v1/accounts/nobody-here")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    anonymous = httpx.get(f"{http['touch'].base_url}/v1/accounts")
    assert anonymous.status_code == 401 and isinstance(anonymous.json()["detail"], str)


def test_every_service_publishes_its_openapi_with_every_status_documented(fuzz_stack: Stack) -> None:
    for service, url in fuzz_stack.urls.items():
        spec = httpx.get(f"{url}/openapi.json").json()
        assert spec["paths"], service
    console = httpx.get(f"{fuzz_stack.urls['console']}/openapi.json").json()
    assert set(console["paths"]["/accounts/{account_id}/override"]["post"]["responses"]) >= {"303", "401", "403"}
    notify = httpx.get(f"{fuzz_stack.urls['notify']}/openapi.json").json()
    task = notify["paths"]["/v1/tasks/{task_id}"]["get"]["responses"]
    assert task["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TaskWithComments"}
    assert set(task) >= {"200", "401", "404", "422"}
    timeline = notify["paths"]["/v1/accounts/{account_id}/timeline"]["get"]["responses"]["200"]
    assert timeline["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Timeline"}
    inapp = notify["paths"]["/v1/inapp/messages"]["get"]["responses"]["200"]
    assert inapp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/InAppMessages"}


@pytest.mark.parametrize("path", ["/t/o/%00.gif", "/t/c/a%00.b", "/t/a/%00", "/u/x%00y", "/t/c/" + "A" * 5000])
def test_a_hostile_signed_link_token_is_a_404_like_any_forged_one(http: dict[str, httpx.Client], path: str) -> None:
    answer = httpx.get(f"{http['notify'].base_url}{path}")
    assert answer.status_code == 404 and answer.json() == {"detail": "no such link"}


def test_an_in_app_identity_with_a_nul_is_a_422_naming_user(http: dict[str, httpx.Client]) -> None:
    answer = httpx.get(f"{http['notify'].base_url}/v1/inapp/messages", params={"user": "u\x00", "token": "00"})
    assert "NUL" in named(answer, "query", "user")
