"""CSV import of accounts and contacts: mapping, reading with line numbers, rows -> Segment calls. Pure.

A row becomes the Segment calls an SDK would send (``group`` for an account; ``group`` + ``identify``
for a contact), validated by the same ``parse_call`` and ``normalise`` as the HTTP API: one
implementation of what a valid account or contact is. Message ids derive from the row's content, so
a re-import of the same file yields the same ids (ingest skips them; consumers dedup by id anyway).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import orjson
import yaml

from .domain import Call, Limits, Problem, TimePolicy, parse_call
from .semantics import normalise

RecordKind = Literal["accounts", "contacts"]
RECORD_KINDS: tuple[RecordKind, ...] = ("accounts", "contacts")
# Target fields per kind. ``id`` is the record's id in the CRM (the account id / user id here).
ACCOUNT_FIELDS = ("id", "name", "plan", "arr", "mrr", "seats", "renewal_date", "csm_owner", "lifecycle_stage", "locale")
CONTACT_FIELDS = ("id", "email", "first_name", "last_name", "name", "role", "locale", "account_id")
FIELDS: dict[RecordKind, tuple[str, ...]] = {"accounts": ACCOUNT_FIELDS, "contacts": CONTACT_FIELDS}
REQUIRED: dict[RecordKind, tuple[str, ...]] = {"accounts": ("id",), "contacts": ("id", "email", "account_id")}

# Column names as the CRMs export them: API names (Data Loader, the REST export) and report labels.
# A field takes the first listed column the file has.
PRESETS: dict[str, dict[RecordKind, dict[str, list[str]]]] = {
    "salesforce": {
        "accounts": {
            "id": ["Id", "Account ID", "Account.Id"],
            "name": ["Name", "Account Name"],
            "plan": ["Plan__c", "Plan", "Type", "Account Type"],
            "arr": ["ARR__c", "AnnualRevenue", "Annual Revenue"],
            "renewal_date": ["Renewal_Date__c", "Contract_End_Date__c", "Renewal Date"],
            "csm_owner": ["CSM_Owner__c", "CSM_Email__c", "Owner Email", "Owner.Email", "Account Owner Email"],
            "lifecycle_stage": ["Lifecycle_Stage__c", "Lifecycle Stage"],
            "seats": ["Seats__c", "Seats"],
        },
        "contacts": {
            "id": ["Id", "Contact ID"],
            "email": ["Email"],
            "first_name": ["FirstName", "First Name"],
            "last_name": ["LastName", "Last Name"],
            "role": ["Title", "Role__c"],
            "account_id": ["AccountId", "Account ID", "Account.Id"],
        },
    },
    "hubspot": {
        "accounts": {
            "id": ["Record ID", "Company ID"],
            "name": ["Company name", "Name"],
            "plan": ["Plan", "Type"],
            "arr": ["ARR", "Annual Recurring Revenue", "Annual Revenue"],
            "renewal_date": ["Renewal Date", "Contract End Date"],
            "csm_owner": ["CSM Owner", "CSM Email", "Company owner email", "Company Owner Email"],
            "lifecycle_stage": ["Customer Lifecycle", "CS Lifecycle Stage"],
            "seats": ["Seats"],
        },
        "contacts": {
            "id": ["Record ID", "Contact ID"],
            "email": ["Email", "Email Address"],
            "first_name": ["First Name", "First name"],
            "last_name": ["Last Name", "Last name"],
            "role": ["Job Title", "Role"],
            "account_id": ["Associated Company IDs", "Associated Company ID", "Company ID"],
        },
    },
}
# HubSpot lists several associated companies in one cell, separated by ";".
MULTI_SEPARATOR = ";"


class MappingInvalid(ValueError):
    """A mapping file that cannot be used: the message names the file and the field."""


@dataclass(frozen=True)
class ColumnMap:
    """Target field -> candidate CSV column names, per record kind."""

    name: str
    fields: Mapping[RecordKind, Mapping[str, Sequence[str]]]

    def columns(self, kind: RecordKind, header: Sequence[str]) -> dict[str, str]:
        """Target field -> the column of this file it is read from (the first candidate present)."""
        present = set(header)
        chosen: dict[str, str] = {}
        for target, candidates in self.fields.get(kind, {}).items():
            column = next((c for c in candidates if c in present), None)
            if column is not None:
                chosen[target] = column
        return chosen


def preset(name: str) -> ColumnMap:
    if name not in PRESETS:
        raise MappingInvalid(f"mapping: unknown preset {name!r}; use one of {', '.join(PRESETS)} or a YAML file")
    return ColumnMap(name=name, fields=PRESETS[name])


def load_mapping(text: str, *, source: str) -> ColumnMap:
    """A YAML mapping: ``{accounts: {field: column or [columns]}, contacts: {...}}``; ``extends: salesforce``
    starts from a preset. Errors name the file and the field."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingInvalid(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise MappingInvalid(f"{source}: expected a mapping with 'accounts' and/or 'contacts'")
    base = document.get("extends")
    fields: dict[RecordKind, dict[str, list[str]]] = {k: {} for k in RECORD_KINDS}
    if base is not None:
        for kind, targets in preset(str(base)).fields.items():
            fields[kind] = {t: list(c) for t, c in targets.items()}
    for key, value in document.items():
        if key == "extends":
            continue
        if key not in RECORD_KINDS:
            raise MappingInvalid(f"{source}: {key!r}: expected accounts, contacts or extends")
        if not isinstance(value, dict):
            raise MappingInvalid(f"{source}: {key}: expected field: column")
        for target, columns in value.items():
            if target not in FIELDS[key]:
                raise MappingInvalid(
                    f"{source}: {key}.{target}: unknown field; expected one of {', '.join(FIELDS[key])}"
                )
            listed = [columns] if isinstance(columns, str) else columns
            if not isinstance(listed, list) or not listed or not all(isinstance(c, str) and c for c in listed):
                raise MappingInvalid(f"{source}: {key}.{target}: expected a column name or a list of them")
            fields[key][target] = listed
    return ColumnMap(name=source, fields=fields)


@dataclass(frozen=True)
class Row:
    line: int  # the physical line of the file the record starts on (1 = the header)
    values: dict[str, str]


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


def read_rows(data: bytes) -> tuple[list[str], list[Row]]:
    """Header and rows of a CSV file (UTF-8, a BOM tolerated), each row with its starting line.

    Lines are physical lines: a quoted field holding newlines moves the following rows down, as
    in the editor the user will open the file in.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingInvalid(f"file: not UTF-8 (byte {exc.start}); export the CSV as UTF-8") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise MappingInvalid("file: empty; expected a header line") from None
    except csv.Error as exc:
        raise MappingInvalid(f"file: line 1: {exc}") from exc
    rows: list[Row] = []
    previous_end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise MappingInvalid(f"file: line {previous_end + 1}: {exc}") from exc
        start, previous_end = previous_end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        rows.append(Row(line=start, values=dict(zip(header, cells, strict=False))))
    return header, rows


@dataclass(frozen=True)
class Record:
    """One row, turned into what it sets: its calls, and the traits a dry run compares."""

    line: int
    key: str  # "accounts:<id>" or "contacts:<id>"
    traits: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    digest: str = ""


def _cell(row: Row, columns: Mapping[str, str], target: str) -> str | None:
    column = columns.get(target)
    value = row.values.get(column, "").strip() if column else ""
    return value or None


def _message_id(kind: str, key: str, content: Mapping[str, Any]) -> str:
    encoded = orjson.dumps({"kind": kind, "key": key, **content}, option=orjson.OPT_SORT_KEYS)
    return f"import-{hashlib.sha256(encoded).hexdigest()[:40]}"


def _raw_calls(
    kind: RecordKind, row: Row, columns: Mapping[str, str]
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The record's id, the traits it sets and the Segment calls (as an SDK would send them)."""
    record_id = _cell(row, columns, "id") or ""
    if kind == "accounts":
        traits = {t: v for t in ACCOUNT_FIELDS[1:] if (v := _cell(row, columns, t)) is not None}
        # An account has no user: a per-account anonymous id keeps the user map free of shared ids.
        group = {"type": "group", "anonymousId": f"touchline-import:{record_id}", "groupId": record_id}
        return record_id, traits, [{**group, "traits": traits}]
    traits = {t: v for t in ("email", "role", "locale") if (v := _cell(row, columns, t)) is not None}
    full = " ".join(p for p in (_cell(row, columns, "first_name"), _cell(row, columns, "last_name")) if p)
    name = _cell(row, columns, "name") or full
    if name:
        traits["name"] = name
    accounts = [a.strip() for a in (_cell(row, columns, "account_id") or "").split(MULTI_SEPARATOR) if a.strip()]
    calls: list[dict[str, Any]] = [{"type": "group", "userId": record_id, "groupId": a, "traits": {}} for a in accounts]
    context = {"groupId": accounts[0]} if accounts else {}
    calls.append({"type": "identify", "userId": record_id, "traits": traits, "context": context})
    return record_id, {**traits, "accounts": accounts}, calls


def row_record(
    kind: RecordKind, row: Row, columns: Mapping[str, str], *, now: datetime, limits: Limits, policy: TimePolicy
) -> Record | list[RowProblem]:
    """A row's record, or every problem of the row (each naming the CSV column and the line)."""
    problems = [
        RowProblem(row.line, columns.get(f, f), "required, empty")
        for f in REQUIRED[kind]
        if _cell(row, columns, f) is None
    ]
    if problems:
        return problems
    record_id, traits, raws = _raw_calls(kind, row, columns)
    key = f"{kind}:{record_id}"
    digest = _message_id(kind, key, {"traits": traits})
    calls: list[Call] = []
    for position, raw in enumerate(raws):
        raw = {**raw, "messageId": f"{digest}-{position}", "timestamp": now.isoformat()}
        parsed = parse_call(raw, kind=None, index=position, path="$", received_at=now, policy=policy, limits=limits)
        if not isinstance(parsed, list):
            parsed = normalise(parsed, path="$")
        if isinstance(parsed, list):
            problems.extend(RowProblem(row.line, _column_of(kind, p, columns), p.message) for p in parsed)
        else:
            calls.append(parsed)
    if problems:
        return problems
    canonical = dict(calls[-1].traits) if kind == "accounts" else {**calls[-1].traits, "accounts": traits["accounts"]}
    return Record(line=row.line, key=key, traits=canonical, calls=calls, digest=digest)


def _column_of(kind: RecordKind, problem: Problem, columns: Mapping[str, str]) -> str:
    """The CSV column a call's problem comes from (``$.traits.arr`` -> the column mapped to arr)."""
    last = problem.path.rsplit(".", 1)[-1]
    ids = {"userId": "id", "anonymousId": "id", "groupId": "id" if kind == "accounts" else "account_id"}
    target = ids.get(last, last)
    return columns.get(target, last)


@dataclass(frozen=True)
class Change:
    key: str
    line: int
    status: Literal["new", "changed", "unchanged"]
    fields: dict[str, dict[str, Any]]  # changed field -> {"before", "after"}

    def as_json(self) -> dict[str, Any]:
        return {"record": self.key, "line": self.line, "status": self.status, "fields": self.fields}


@dataclass(frozen=True)
class Previous:
    """What the last import of a record set: its traits and the message-id digest it was sent under."""

    traits: dict[str, Any]
    digest: str


def compare(record: Record, previous: Previous | None) -> Change:
    """What applying ``record`` changes against what the last import of the same record set."""
    if previous is None:
        return Change(
            record.key, record.line, "new", {k: {"before": None, "after": v} for k, v in record.traits.items()}
        )
    before = previous.traits
    changed = {k: {"before": before.get(k), "after": v} for k, v in record.traits.items() if before.get(k) != v}
    return Change(record.key, record.line, "changed" if changed else "unchanged", changed)


def chained(record: Record, previous: Previous | None) -> Record:
    """The record with message ids that also derive from what it replaces.

    Content alone would repeat ids when a record goes A -> B -> A again, and consumers would drop
    the return to A as a duplicate; chained to the previous import, the same file re-sent after a
    failure keeps its ids (nothing was remembered yet) while a real change always gets new ones.
    """
    if previous is None:
        return record
    encoded = f"{record.digest}:{previous.digest}".encode()
    digest = f"import-{hashlib.sha256(encoded).hexdigest()[:40]}"
    calls = [replace(c, message_id=f"{digest}-{i}") for i, c in enumerate(record.calls)]
    return replace(record, calls=calls, digest=digest)


def duplicates(records: Sequence[Record]) -> list[RowProblem]:
    """A record id twice in one file: which row wins would depend on order; both are refused."""
    lines: dict[str, list[int]] = {}
    for record in records:
        lines.setdefault(record.key, []).append(record.line)
    return [
        RowProblem(
            line, "id", f"{key.split(':', 1)[1]!r} also on line(s) {', '.join(str(o) for o in seen if o != line)}"
        )
        for key, seen in lines.items()
        if len(seen) > 1
        for line in seen
    ]
