"""Which web origins may call the in-app API from a browser (CORS).

The in-app API authenticates with a user token the product's back end signs, not with cookies, so
CORS is a second fence rather than the lock: it keeps pages of other sites from using the API from a
visitor's browser. An entry is an exact origin (``https://app.example.com``, ``http://localhost:5173``),
an origin with a leading ``*.`` label for every subdomain (``https://*.example.com``, for products
that give each customer their own host) or ``*`` (any origin; refused in prod, see main.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELD = "inapp_allowed_origins"
# scheme://host[:port] and nothing else: browsers send exactly that in Origin (no path, no slash).
_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<wild>\*\.)?(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(?P<port>\d{1,5}))?"
)


@dataclass(frozen=True)
class AllowedOrigins:
    exact: tuple[str, ...] = ()
    subdomains_of: tuple[str, ...] = ()  # "https://example.com[:port]" for an entry "https://*.example.com"
    any: bool = False

    @property
    def regex(self) -> str | None:
        """One pattern (matched whole) for the ``*.`` entries, or None."""
        if not self.subdomains_of:
            return None
        parts = []
        for base in self.subdomains_of:
            scheme, rest = base.split("://", 1)
            host, _, port = rest.partition(":")
            suffix = re.escape(f".{host}") + (re.escape(f":{port}") if port else "")
            parts.append(f"{re.escape(scheme)}://[a-z0-9-]+(?:\\.[a-z0-9-]+)*{suffix}")
        return "|".join(f"(?:{p})" for p in parts)

    def allows(self, origin: str) -> bool:
        if self.any or origin in self.exact:
            return True
        pattern = self.regex
        return pattern is not None and re.fullmatch(pattern, origin) is not None


def parse_origins(raw: str) -> AllowedOrigins:
    """Comma separated entries; an empty list allows no other origin. Raises ValueError naming the entry."""
    exact: list[str] = []
    wild: list[str] = []
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    for entry in entries:
        if entry == "*":
            if len(entries) > 1:
                raise ValueError(f"{FIELD}: '*' allows every origin; give it alone or list the origins instead")
            return AllowedOrigins(any=True)
        match = _ORIGIN.fullmatch(entry.lower())
        if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
            raise ValueError(
                f"{FIELD}: {entry!r} is not an origin; expected scheme://host[:port] with http or https, "
                "no path or trailing slash (e.g. https://app.example.com or https://*.example.com)"
            )
        base = f"{match['scheme']}://{match['host']}" + (f":{match['port']}" if match["port"] else "")
        (wild if match["wild"] else exact).append(base)
    return AllowedOrigins(exact=tuple(dict.fromkeys(exact)), subdomains_of=tuple(dict.fromkeys(wild)))
