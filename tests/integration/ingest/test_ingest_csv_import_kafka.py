"""CSV import on the real Kafka and Postgres: a bad row refused by line, the rest published once."""

from __future__ import annotations

import uuid

import httpx
import pytest
from ingest_harness import NO_AUTH, WRITE_KEY, Ingest, events_for

from touchline.console.importer import HttpImporter, ImportRefused
from touchline.shared.messages import ProductEvent


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def accounts_csv(a: str, b: str, c: str, *, arr: str = "120000") -> bytes:
    return (
        "\ufeffId,Name,AnnualRevenue,Renewal_Date__c,Owner Email\r\n"
        f'{a},"Acme\r\nJapan",{arr},2027-09-30,csm@touchline.test\r\n'
        f"{b},Beta,lots,2027-10-01,csm@touchline.test\r\n"
        f"{c},Gamma,48000,2027-11-01,csm@touchline.test\r\n"
    ).encode()


async def post_csv(ingest: Ingest, kind: str, data: bytes, **params: str) -> dict:  # type: ignore[type-arg]
    response = await ingest.client.post(
        f"/v1/import/{kind}", params=params, content=data, headers={"content-type": "text/csv"}
    )
    assert response.status_code in (200, 400), response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_bad_row_is_refused_by_its_line_and_the_others_are_published_once(ingest: Ingest) -> None:
    a, b, c = uid("acc"), uid("acc"), uid("acc")
    data = accounts_csv(a, b, c)

    dry = await post_csv(ingest, "accounts", data, dry_run="true", mapping="salesforce")
    assert (dry["dry_run"], dry["new"], dry["applied"], dry["refused"]) == (True, 2, 0, 1)
    assert [(e["line"], e["field"]) for e in dry["errors"]] == [(4, "AnnualRevenue")]
    assert await events_for(ingest.common, a) == []  # a dry run writes nothing

    first = await post_csv(ingest, "accounts", data)
    assert (first["success"], first["applied"], first["new"]) == (False, 2, 2)
    assert [e["line"] for e in first["errors"]] == [4]
    [event_a] = [e.message for e in await events_for(ingest.common, a)]
    [_] = await events_for(ingest.common, c)
    assert await events_for(ingest.common, b) == []
    assert isinstance(event_a, ProductEvent) and event_a.kind == "group"
    assert event_a.traits == {
        "name": "Acme\r\nJapan",
        "arr": 120000.0,
        "renewal_date": "2027-09-30",
        "csm_owner": "csm@touchline.test",
    }

    again = await post_csv(ingest, "accounts", data)
    assert (again["applied"], again["unchanged"]) == (0, 2)
    assert len(await events_for(ingest.common, a)) == 1 and len(await events_for(ingest.common, c)) == 1

    dry_change = await post_csv(ingest, "accounts", accounts_csv(a, b, c, arr="150000"), dry_run="true")
    [changed] = [x for x in dry_change["changes"] if x["status"] == "changed"]
    assert changed == {
        "record": f"accounts:{a}",
        "line": 2,
        "status": "changed",
        "fields": {"arr": {"before": 120000.0, "after": 150000.0}},
    }
    assert len(await events_for(ingest.common, a)) == 1


async def test_contacts_with_a_yaml_mapping_are_identified_and_grouped(ingest: Ingest) -> None:
    account, contact = uid("acc"), uid("003")
    mapping = b"extends: hubspot\ncontacts:\n  account_id: Company\n"
    data = f"Record ID,First Name,Last Name,Email,Company\n{contact},Ann,Lee,Ann@Acme.test,{account}\n".encode()
    response = await ingest.client.post(
        "/v1/import/contacts",
        files={"file": ("contacts.csv", data, "text/csv"), "mapping": ("crm.yaml", mapping, "application/yaml")},
    )
    assert response.status_code == 200, response.text
    events = [e.message for e in await events_for(ingest.common, account)]
    assert [(e.kind, e.user_id) for e in events if isinstance(e, ProductEvent)] == [
        ("group", contact),
        ("identify", contact),
    ]
    identify = events[1]
    assert isinstance(identify, ProductEvent)
    assert identify.traits == {"email": "ann@acme.test", "name": "Ann Lee"}


async def test_an_import_needs_a_write_key_and_a_known_mapping(ingest: Ingest) -> None:
    data = b"Id,Name\nx,y\n"
    unauthorised = await ingest.client.post(
        "/v1/import/accounts", content=data, headers={"content-type": "text/csv"}, auth=NO_AUTH
    )
    assert unauthorised.status_code == 401
    unknown = await ingest.client.post(
        "/v1/import/accounts", params={"mapping": "pipedrive"}, content=data, headers={"content-type": "text/csv"}
    )
    assert unknown.status_code == 422 and "pipedrive" in unknown.json()["message"]
    wrong_kind = await ingest.client.post("/v1/import/deals", content=data, headers={"content-type": "text/csv"})
    assert wrong_kind.status_code == 422


async def test_the_console_import_page_adapter_applies_once_through_ingest(ingest: Ingest) -> None:
    """The console's HttpImporter against the real ingest (ASGI) and Kafka: what the /imports page shows."""
    a, b, c = uid("acc"), uid("acc"), uid("acc")
    importer = HttpImporter("http://t", WRITE_KEY, transport=httpx.ASGITransport(app=ingest.app))
    try:
        dry = await importer.upload(
            "accounts", accounts_csv(a, b, c), mapping="salesforce", dry_run=True, actor="aiko@x.test"
        )
        assert (dry["new"], dry["applied"], [e["line"] for e in dry["errors"]]) == (2, 0, [4])
        applied = await importer.upload(
            "accounts", accounts_csv(a, b, c), mapping="salesforce", dry_run=False, actor="aiko@x.test"
        )
        again = await importer.upload(
            "accounts", accounts_csv(a, b, c), mapping="salesforce", dry_run=False, actor="aiko@x.test"
        )
        assert (applied["applied"], again["applied"], again["unchanged"]) == (2, 0, 2)
        assert len(await events_for(ingest.common, a)) == 1
        with pytest.raises(ImportRefused, match="pipedrive"):
            await importer.upload("accounts", b"Id\nx\n", mapping="pipedrive", dry_run=True, actor="aiko@x.test")
    finally:
        await importer.aclose()
