"""Scoped API tokens: who may call the service APIs, and for what.

Three scopes, each including the ones before it: ``read`` (GET and HEAD), ``write`` (every other
method) and ``admin`` (routes marked with :func:`admin_route`, e.g. validation and the audit log).
``TOUCHLINE_API_TOKENS`` lists them as comma-separated ``name:scope:secret`` entries; the older
single ``TOUCHLINE_API_TOKEN`` stays valid as the token named ``api`` with the admin scope.
Pure: parsing and deciding; ``runtime.require_token`` reads the request.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
LEGACY_NAME = "api"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MARK = "__touchline_scope__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Token:
    name: str
    scope: Scope
    secret: str = field(repr=False)  # never printed

    def allows(self, needed: Scope) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


class TokenListError(ValueError):
    pass


def parse_tokens(text: str, *, setting: str = "api_tokens") -> list[Token]:
    """``name:scope:secret,...`` -> tokens; an error names the entry (by position and name), never its secret."""
    tokens: list[Token] = []
    for position, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        if not entry:
            continue
        where = f"{setting}: entry {position}"
        if entry.count(":") < 2:  # maybe a bare secret: never echo it
            raise TokenListError(f"{where}: must be name:scope:secret")
        name, _, rest = entry.partition(":")
        scope, _, secret = rest.partition(":")
        if not _NAME.match(name):
            raise TokenListError(
                f"{where}: name must be 1-64 letters, digits, '_', '.' or '-' (format name:scope:secret)"
            )
        if scope not in SCOPES:
            raise TokenListError(f"{where} ({name}): scope must be one of {', '.join(SCOPES)}, not {scope[:20]!r}")
        if not secret.strip():
            raise TokenListError(f"{where} ({name}): secret must not be empty")
        if any(t.name == name for t in tokens) or name == LEGACY_NAME:
            raise TokenListError(f"{where} ({name}): name used twice ({LEGACY_NAME!r} is the TOUCHLINE_API_TOKEN's)")
        tokens.append(Token(name=name, scope=scope, secret=secret))  # type: ignore[arg-type]
    return tokens


def find(tokens: Iterable[Token], presented: str) -> Token | None:
    """The token whose secret is ``presented``; every secret is compared, in constant time each."""
    found = None
    for token in tokens:
        if hmac.compare_digest(presented.encode(), token.secret.encode()):
            found = token
    return found


def admin_route(endpoint: F) -> F:
    """Mark a route as needing the admin scope (put it under the ``@router.post(...)`` line)."""
    setattr(endpoint, _MARK, "admin")
    return endpoint


def scope_needed(method: str, endpoint: object) -> Scope:
    if getattr(endpoint, _MARK, None) == "admin":
        return "admin"
    return "read" if method.upper() in ("GET", "HEAD") else "write"
