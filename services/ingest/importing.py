"""Importing a CSV of accounts or contacts: validate every row, compare, publish what changed, remember it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .csvimport import (
    Change,
    ColumnMap,
    Previous,
    Record,
    RecordKind,
    RowProblem,
    chained,
    compare,
    duplicates,
    read_rows,
    row_record,
)
from .domain import Limits, TimePolicy
from .handlers import Ports, accept

# Calls handed to accept() at once: bounds one request's memory, not a contract.
CHUNK = 1000


class ImportedRecords(Protocol):
    """What the last import of each record set (ingest schema): the dry run compares with it."""

    async def known(self, keys: Sequence[str]) -> dict[str, Previous]: ...

    async def remember(self, records: Sequence[Record], *, source: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class ImportReport:
    kind: RecordKind
    dry_run: bool
    rows: int
    changes: list[Change]
    errors: list[RowProblem]

    def as_json(self) -> dict[str, Any]:
        counts = {s: sum(1 for c in self.changes if c.status == s) for s in ("new", "changed", "unchanged")}
        applied = 0 if self.dry_run else counts["new"] + counts["changed"]
        return {
            "success": not self.errors,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "applied": applied,
            **counts,
            "refused": len({e.line for e in self.errors}),
            "errors": [e.as_json() for e in self.errors],
            "changes": [c.as_json() for c in self.changes],
        }


def validate(
    kind: RecordKind, data: bytes, mapping: ColumnMap, *, now: datetime, limits: Limits, policy: TimePolicy
) -> tuple[int, list[Record], list[RowProblem]]:
    """Every row's record, or its problems with its line. Raises MappingInvalid for a file unusable as a whole."""
    header, rows = read_rows(data)
    columns = mapping.columns(kind, header)
    records: list[Record] = []
    errors: list[RowProblem] = []
    for row in rows:
        result = row_record(kind, row, columns, now=now, limits=limits, policy=policy)
        if isinstance(result, list):
            errors.extend(result)
        else:
            records.append(result)
    twice = duplicates(records)
    if twice:
        refused = {p.line for p in twice}
        records = [r for r in records if r.line not in refused]
        errors.extend(twice)
    errors.sort(key=lambda e: e.line)
    return len(rows), records, errors


async def import_csv(
    kind: RecordKind,
    data: bytes,
    mapping: ColumnMap,
    *,
    dry_run: bool,
    source: str,
    ports: Ports,
    store: ImportedRecords,
    now: datetime,
    limits: Limits,
    policy: TimePolicy,
) -> ImportReport:
    """Valid rows are applied once; refused rows are listed with their line and change nothing.

    New and changed records are published (as the Segment API would) before they are remembered:
    a failure in between re-publishes the same message ids next time, which consumers deduplicate.
    """
    count, records, errors = validate(kind, data, mapping, now=now, limits=limits, policy=policy)
    before: Mapping[str, Previous] = await store.known([r.key for r in records])
    changes = [compare(r, before.get(r.key)) for r in records]
    if not dry_run:
        due = [chained(r, before.get(r.key)) for r, c in zip(records, changes, strict=True) if c.status != "unchanged"]
        calls = [call for r in due for call in r.calls]
        for start in range(0, len(calls), CHUNK):
            await accept(calls[start : start + CHUNK], source=source, ports=ports, now=now)
        if due:
            await store.remember(due, source=source, now=now)
    return ImportReport(kind=kind, dry_run=dry_run, rows=count, changes=changes, errors=errors)
