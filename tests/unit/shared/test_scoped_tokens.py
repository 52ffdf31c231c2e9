"""Scoped API tokens: parsing TOUCHLINE_API_TOKENS, refusing weak ones in prod, and the bearer
dependency's answers (401 without a known token, 403 naming the scope a token lacks)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import SecretStr, ValidationError

from touchline.shared.runtime import require_token
from touchline.shared.settings import CommonSettings
from touchline.shared.tokens import TokenListError, admin_route, parse_tokens, scope_needed

READ, WRITE, ADMIN = "r" * 20, "w" * 20, "a" * 20
TOKENS = f"viewer:read:{READ},crm:write:{WRITE},ops:admin:{ADMIN}"


def test_tokens_parse_as_name_scope_secret_and_a_secret_may_hold_colons() -> None:
    tokens = parse_tokens(f"viewer:read:{READ}, ops:admin:a:b:c ,")
    assert [(t.name, t.scope) for t in tokens] == [("viewer", "read"), ("ops", "admin")]
    assert tokens[1].secret == "a:b:c"
    assert READ not in repr(tokens)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("viewer:reader:x", "entry 1 (viewer): scope must be one of read, write, admin"),
        ("viewer:read:", "entry 1 (viewer): secret must not be empty"),
        ("ok:read:x,a-bare-secret-0123456789", "entry 2: must be name:scope:secret"),
        ("ok:read:x,bad name:read:x", "entry 2: name must be"),
        ("a:read:x,a:write:y", "entry 2 (a): name used twice"),
        ("api:read:x", "entry 1 (api): name used twice"),
    ],
)
def test_a_bad_token_entry_is_refused_naming_it_never_its_secret(text: str, message: str) -> None:
    with pytest.raises(TokenListError) as info:
        parse_tokens(text)
    assert message in str(info.value) and "a-bare-secret" not in str(info.value)
    with pytest.raises(ValidationError, match="api_tokens"):
        CommonSettings(api_tokens=SecretStr(text))


def test_prod_refuses_dev_or_short_scoped_secrets_and_drops_the_unset_legacy_token() -> None:
    with pytest.raises(ValidationError, match=r"api_tokens \(viewer\): a dev default secret"):
        CommonSettings(env="prod", api_tokens=SecretStr("viewer:read:dev-token-0123456789"))
    with pytest.raises(ValidationError, match=r"api_tokens \(viewer\): must be at least 16 characters"):
        CommonSettings(env="prod", api_tokens=SecretStr("viewer:read:short"))
    prod = CommonSettings(env="prod", api_tokens=SecretStr(TOKENS))
    assert [t.name for t in prod.tokens()] == ["viewer", "crm", "ops"]  # no "api" with the dev default
    with pytest.raises(ValidationError, match="api_token: a dev default secret"):
        CommonSettings(env="prod")  # nothing set at all: refused as before


def test_the_single_legacy_token_keeps_every_scope() -> None:
    legacy = CommonSettings(env="prod", api_token=SecretStr("a-real-token-0123456789"))
    assert [(t.name, t.scope) for t in legacy.tokens()] == [("api", "admin")]
    both = CommonSettings(env="prod", api_token=SecretStr("a-real-token-0123456789"), api_tokens=SecretStr(TOKENS))
    assert [t.name for t in both.tokens()] == ["api", "viewer", "crm", "ops"]
    assert both.token_named("ops") == ADMIN and both.token_named("console") == "a-real-token-0123456789"


def test_reads_need_read_changes_need_write_and_marked_routes_need_admin() -> None:
    def plain() -> None: ...

    @admin_route
    def marked() -> None: ...

    assert scope_needed("GET", plain) == scope_needed("HEAD", plain) == "read"
    assert scope_needed("POST", plain) == scope_needed("DELETE", plain) == scope_needed("PUT", plain) == "write"
    assert scope_needed("GET", marked) == scope_needed("POST", marked) == "admin"


def app_with_tokens() -> FastAPI:
    common = CommonSettings(env="test", api_tokens=SecretStr(TOKENS))
    api = APIRouter(dependencies=[require_token(lambda: common)])

    @api.get("/thing")
    async def read_thing(request: Request) -> dict[str, str]:
        return {"actor": request.state.caller.actor}

    @api.post("/thing")
    async def change_thing(request: Request) -> dict[str, str]:
        return {"actor": request.state.caller.actor}

    @api.post("/validate")
    @admin_route
    async def validate() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(api)
    return app


async def call(method: str, path: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    transport = httpx.ASGITransport(app=app_with_tokens())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.request(method, path, headers=headers)


async def test_no_token_or_an_unknown_one_is_401_and_says_which() -> None:
    missing = await call("GET", "/thing", None)
    assert missing.status_code == 401 and missing.json()["detail"] == "missing bearer token"
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = await call("GET", "/thing", "x" * 20)
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown bearer token"


async def test_a_read_token_reads_but_cannot_write_and_the_403_names_the_scope() -> None:
    assert (await call("GET", "/thing", READ)).status_code == 200
    refused = await call("POST", "/thing", READ)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "token 'viewer' has the read scope; this route needs the write scope"


async def test_an_admin_route_refuses_a_write_token_and_takes_an_admin_one() -> None:
    refused = await call("POST", "/validate", WRITE)
    assert refused.status_code == 403 and "needs the admin scope" in refused.json()["detail"]
    assert (await call("POST", "/validate", ADMIN)).status_code == 200
    assert (await call("POST", "/thing", ADMIN)).status_code == 200  # admin includes write


async def test_the_actor_header_counts_only_with_a_write_or_admin_token() -> None:
    vouched = await call("POST", "/thing", WRITE, **{"x-touchline-actor": "aiko@example.com"})
    assert vouched.json() == {"actor": "aiko@example.com"}
    claimed = await call("GET", "/thing", READ, **{"x-touchline-actor": "aiko@example.com"})
    assert claimed.json() == {"actor": "viewer"}
    anonymous = await call("POST", "/thing", WRITE)
    assert anonymous.json() == {"actor": "crm"}
    bad = await call("POST", "/thing", WRITE, **{"x-touchline-actor": "a\tb"})
    assert bad.status_code == 400 and "X-Touchline-Actor" in bad.json()["detail"]
