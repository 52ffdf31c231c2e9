"""CSV import, pure and with fakes: mapping, line numbers, validation through ingest's own rules, dedup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from ingest_fakes import FakeIdentities  # type: ignore[import-not-found]

from touchline.ingest.csvimport import MappingInvalid, Previous, Record, load_mapping, preset, read_rows
from touchline.ingest.domain import Limits, TimePolicy
from touchline.ingest.handlers import Ports
from touchline.ingest.importing import import_csv, validate
from touchline.ingest.ports import BrokerUnavailable
from touchline.ingest.semantics import EventDoc

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
SF_ACCOUNTS = (
    "Id,Name,Type,AnnualRevenue,Renewal_Date__c,Owner Email,Lifecycle_Stage__c\r\n"
    "001A,Acme,Enterprise,120000,2027-09-30,csm@touchline.test,adoption\r\n"
    '001B,"Beta\nHoldings\nLtd",Growth,lots,2027-10-01,csm@touchline.test,retention\r\n'
    '001C,Gamma,Growth,"48,000",2027-11-01,csm@touchline.test,onboarding\r\n'
)


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[EventDoc] = []
        self.down = False

    async def publish(self, events: Sequence[EventDoc]) -> None:
        if self.down:
            raise BrokerUnavailable("down")
        self.events.extend(events)


class FakeImported:
    def __init__(self) -> None:
        self.records: dict[str, Previous] = {}

    async def known(self, keys: Sequence[str]) -> dict[str, Previous]:
        return {k: self.records[k] for k in keys if k in self.records}

    async def remember(self, records: Sequence[Record], *, source: str, now: datetime) -> None:
        self.records.update({r.key: Previous(r.traits, r.digest) for r in records})


def check(kind: str, text: str | bytes, mapping: str = "salesforce") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return validate(kind, data, preset(mapping), now=NOW, limits=Limits(), policy=TimePolicy())  # type: ignore[arg-type]


def test_a_quoted_field_with_newlines_counts_its_physical_lines_for_the_rows_after_it() -> None:
    _, rows = read_rows(SF_ACCOUNTS.encode())
    assert [r.line for r in rows] == [2, 3, 6]
    assert rows[1].values["Name"] == "Beta\nHoldings\nLtd"


def test_a_bad_arr_is_refused_on_its_line_naming_the_column_and_the_other_rows_stand() -> None:
    count, records, errors = check("accounts", SF_ACCOUNTS)
    assert count == 3
    assert [(e.line, e.field) for e in errors] == [(3, "AnnualRevenue")]
    assert "lots" in errors[0].message
    acme, gamma = records
    assert acme.traits == {
        "name": "Acme",
        "plan": "Enterprise",
        "arr": 120000.0,
        "renewal_date": "2027-09-30",
        "csm_owner": "csm@touchline.test",
        "lifecycle_stage": "adoption",
    }
    assert gamma.line == 6 and gamma.traits["arr"] == 48000.0
    group = acme.calls[0]
    assert (group.kind, group.group_id, group.anonymous_id) == ("group", "001A", "touchline-import:001A")


def test_a_byte_order_mark_does_not_hide_the_first_column() -> None:
    _, records, errors = check("accounts", b"\xef\xbb\xbf" + SF_ACCOUNTS.encode())
    assert not any(e.field == "Id" for e in errors)
    assert [r.key for r in records] == ["accounts:001A", "accounts:001C"]


def test_a_contact_without_email_is_refused_and_one_with_a_bad_email_names_the_column() -> None:
    text = (
        "Id,FirstName,LastName,Email,AccountId\n"
        "003A,Ann,Lee,ann@acme.test,001A\n"
        "003B,Bob,Ray,,001A\n"
        "003C,Cid,Ma,not-an-email,001A\n"
    )
    _, records, errors = check("contacts", text)
    assert [(e.line, e.field) for e in errors] == [(3, "Email"), (4, "Email")]
    (ann,) = records
    assert [c.kind for c in ann.calls] == ["group", "identify"]
    assert ann.calls[1].traits == {"email": "ann@acme.test", "name": "Ann Lee"}
    assert ann.calls[1].context == {"groupId": "001A"}


def test_hubspot_contacts_join_each_associated_company() -> None:
    text = 'Record ID,First Name,Last Name,Email,Associated Company IDs\n51,Ann,Lee,ann@acme.test,"901;902"\n'
    _, (record,), errors = check("contacts", text, "hubspot")
    assert not errors
    assert [(c.kind, c.group_id) for c in record.calls] == [("group", "901"), ("group", "902"), ("identify", None)]


def test_the_same_id_twice_in_a_file_refuses_both_rows() -> None:
    _, records, errors = check("accounts", "Id,Name\nA,One\nB,Two\nA,Uno\n")
    assert [r.key for r in records] == ["accounts:B"]
    assert [e.line for e in errors] == [2, 4]


def test_an_account_id_with_a_slash_is_refused_as_the_segment_api_refuses_it() -> None:
    _, records, errors = check("accounts", "Id,Name\na/b,Slash\n")
    assert not records and (errors[0].line, errors[0].field) == (2, "Id")


def test_a_yaml_mapping_extends_a_preset_and_names_its_file_and_field_when_wrong() -> None:
    mapping = load_mapping("extends: salesforce\naccounts:\n  arr: [ARR (USD)]\n", source="crm.yaml")
    _, (record,), _ = validate(
        "accounts", b"Id,ARR (USD)\nX,10\n", mapping, now=NOW, limits=Limits(), policy=TimePolicy()
    )
    assert record.traits == {"arr": 10.0}
    with pytest.raises(MappingInvalid, match=r"crm.yaml: accounts.revenue: unknown field"):
        load_mapping("accounts:\n  revenue: Rev\n", source="crm.yaml")
    with pytest.raises(MappingInvalid, match="unknown preset"):
        preset("pipedrive")


def test_an_unclosed_quote_makes_the_file_unusable_naming_the_line() -> None:
    with pytest.raises(MappingInvalid, match="line"):
        read_rows(b'Id,Name\nA,"never closed\n')


async def test_an_import_applies_valid_rows_once_and_a_reimport_publishes_nothing() -> None:
    publisher, store = FakePublisher(), FakeImported()
    ports = Ports(identities=FakeIdentities(), publisher=publisher)
    kwargs: dict[str, Any] = dict(source="crm", ports=ports, store=store, now=NOW, limits=Limits(), policy=TimePolicy())
    first = await import_csv("accounts", SF_ACCOUNTS.encode(), preset("salesforce"), dry_run=False, **kwargs)
    assert first.as_json()["applied"] == 2 and first.as_json()["refused"] == 1
    assert sorted(e["account_id"] for e in publisher.events) == ["001A", "001C"]
    again = await import_csv("accounts", SF_ACCOUNTS.encode(), preset("salesforce"), dry_run=False, **kwargs)
    assert again.as_json()["unchanged"] == 2 and len(publisher.events) == 2
    edited = SF_ACCOUNTS.replace("120000", "130000")
    dry = await import_csv("accounts", edited.encode(), preset("salesforce"), dry_run=True, **kwargs)
    (change,) = [c for c in dry.changes if c.status == "changed"]
    assert change.fields == {"arr": {"before": 120000.0, "after": 130000.0}}
    assert len(publisher.events) == 2 and store.records["accounts:001A"].traits["arr"] == 120000.0


async def test_a_record_changed_and_changed_back_is_published_under_new_ids_each_time() -> None:
    publisher, store = FakePublisher(), FakeImported()
    ports = Ports(identities=FakeIdentities(), publisher=publisher)
    kwargs: dict[str, Any] = dict(source="crm", ports=ports, store=store, now=NOW, limits=Limits(), policy=TimePolicy())
    versions = ["Id,Name\nA,Acme\n", "Id,Name\nA,Acme KK\n", "Id,Name\nA,Acme\n"]
    for text in versions:
        await import_csv("accounts", text.encode(), preset("salesforce"), dry_run=False, **kwargs)
    ids = [e["message_id"] for e in publisher.events]
    # Consumers drop an id they saw: going back to "Acme" must not look like the first import.
    assert len(ids) == 3 == len(set(ids))
    assert [e["traits"]["name"] for e in publisher.events] == ["Acme", "Acme KK", "Acme"]


async def test_rows_are_remembered_only_after_kafka_acknowledged_them() -> None:
    publisher, store = FakePublisher(), FakeImported()
    publisher.down = True
    ports = Ports(identities=FakeIdentities(), publisher=publisher)
    kwargs: dict[str, Any] = dict(source="crm", ports=ports, store=store, now=NOW, limits=Limits(), policy=TimePolicy())
    with pytest.raises(BrokerUnavailable):
        await import_csv("accounts", SF_ACCOUNTS.encode(), preset("salesforce"), dry_run=False, **kwargs)
    assert store.records == {}
    publisher.down = False
    retried = await import_csv("accounts", SF_ACCOUNTS.encode(), preset("salesforce"), dry_run=False, **kwargs)
    assert retried.as_json()["new"] == 2
    ids = [e["message_id"] for e in publisher.events]
    assert ids == sorted(set(ids), key=ids.index) and all(i.startswith("import-") for i in ids)


def test_the_cli_prints_counts_refused_lines_and_what_would_change() -> None:
    from touchline.ingest.import_cli import report_lines

    body = {
        "success": False,
        "dry_run": True,
        "rows": 3,
        "applied": 0,
        "new": 1,
        "changed": 1,
        "unchanged": 0,
        "refused": 1,
        "errors": [{"line": 4, "field": "AnnualRevenue", "message": "expected a number, got 'lots'"}],
        "changes": [
            {"record": "accounts:A", "line": 2, "status": "changed", "fields": {"arr": {"before": 1.0, "after": 2.0}}},
            {"record": "accounts:B", "line": 3, "status": "new", "fields": {"name": {"before": None, "after": "B"}}},
        ],
    }
    assert report_lines(body) == [
        "3 row(s): 1 new, 1 changed, 0 unchanged, 1 refused; would apply 2",
        "line 4: AnnualRevenue: expected a number, got 'lots'",
        "line 2: accounts:A changed (arr: 1.0 -> 2.0)",
        "line 3: accounts:B new (name: None -> 'B')",
    ]


def test_the_cli_refuses_to_run_without_a_write_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from touchline.ingest.import_cli import cli

    monkeypatch.delenv("TOUCHLINE_IMPORT_WRITE_KEY", raising=False)
    (tmp_path / "a.csv").write_text("Id\nA\n")
    assert cli(["accounts", str(tmp_path / "a.csv")]) == 2
