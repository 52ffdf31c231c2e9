"""``touchline import accounts|contacts FILE``: post a CRM export to ingest's import API and report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from .csvimport import PRESETS, RECORD_KINDS

KEY_VARIABLE = "TOUCHLINE_IMPORT_WRITE_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchline import",
        description=f"Import a CSV export through ingest (write key in ${KEY_VARIABLE}, as for the Segment API).",
    )
    parser.add_argument("kind", choices=RECORD_KINDS)
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--mapping", default="salesforce", help=f"a preset ({', '.join(PRESETS)}) or a YAML mapping file"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    port = os.environ.get("TOUCHLINE_INGEST_PORT", "8001")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="ingest's base URL")
    return parser


def report_lines(body: dict[str, Any]) -> list[str]:
    """What the CLI prints: the counts, every refused row by line, and each change on a dry run."""
    verb = "would apply" if body.get("dry_run") else "applied"
    lines = [
        f"{body['rows']} row(s): {body['new']} new, {body['changed']} changed, {body['unchanged']} unchanged, "
        f"{body['refused']} refused; {verb} {body['new'] + body['changed'] if body.get('dry_run') else body['applied']}"
    ]
    lines += [f"line {e['line']}: {e['field']}: {e['message']}" for e in body.get("errors", [])]
    for change in body.get("changes", []):
        if change["status"] == "unchanged":
            continue
        fields = ", ".join(f"{k}: {v['before']!r} -> {v['after']!r}" for k, v in change["fields"].items())
        lines.append(f"line {change['line']}: {change['record']} {change['status']} ({fields})")
    return lines


def cli(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        print(f"touchline import: set {KEY_VARIABLE} to an ingest write key", file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
        mapping = Path(args.mapping)
        files: dict[str, Any] = {"file": (args.file.name, data, "text/csv")}
        if mapping.suffix in (".yaml", ".yml"):
            files["mapping"] = (mapping.name, mapping.read_bytes(), "application/yaml")
    except OSError as exc:
        print(f"touchline import: {exc}", file=sys.stderr)
        return 2
    params = {"dry_run": str(args.dry_run).lower(), "mapping": args.mapping if "mapping" not in files else ""}
    url = f"{args.url.rstrip('/')}/v1/import/{args.kind}"
    try:
        response = httpx.post(url, params=params, files=files, auth=(key, ""), timeout=300)
    except httpx.HTTPError as exc:
        print(f"touchline import: {url}: {exc}", file=sys.stderr)
        return 2
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if "rows" not in body:
        print(f"touchline import: HTTP {response.status_code}: {body.get('message', response.text)}", file=sys.stderr)
        return 2
    print("\n".join(report_lines(body)))
    return 0 if body["success"] else 1
