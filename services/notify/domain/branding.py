"""Who the mail is from, in the templates' words: the product's name, its help and support links and
phone. Settings (``TOUCHLINE_NOTIFY_PRODUCT_NAME`` …), checked here so a typo stops start-up naming
the setting, and never hard-coded in a template.

Every template sees them at top level: ``product``, ``help_url``, ``support_url``, ``support_phone``.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Hosts reserved for documentation and tests (RFC 2606, RFC 6761): a placeholder, never a real page.
_RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost", ".local")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "localhost")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{3,30}[0-9]$")


@dataclass(frozen=True)
class Brand:
    product: str
    help_url: str
    support_url: str
    support_phone: str

    def context(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "help_url": self.help_url,
            "support_url": self.support_url,
            "support_phone": self.support_phone,
        }


def check_product_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValueError("product_name: must not be empty (the product's name, as customers know it)")
    if len(name) > 100:
        raise ValueError("product_name: at most 100 characters (it appears in mail subjects)")
    return name


def check_url(name: str, value: str) -> str:
    """An absolute http(s) URL with a host; returned without a trailing slash (templates append paths)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value.strip()):
        raise ValueError(
            f"{name}: expected an absolute http(s) URL such as https://help.yourproduct.com, got {value!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{name}: give a base URL without ?query or #fragment (templates append paths to it)")
    return value.strip().rstrip("/")


def check_phone(value: str) -> str:
    phone = value.strip()
    if phone and not _PHONE.match(phone):
        raise ValueError(f"support_phone: expected a phone number (digits, spaces, + ( ) - .), got {value!r}")
    return phone


def check_mail_from(value: str) -> str:
    _, address = email.utils.parseaddr(value)
    if "@" not in address or not address.rpartition("@")[2] or "\n" in value or "\r" in value:
        raise ValueError(f"mail_from: expected an address such as 'Acme <cs@acme.com>', got {value!r}")
    return value


def is_placeholder_host(url_or_address: str) -> bool:
    """True for example.com, *.example, *.invalid, *.test, localhost … (documentation and test names)."""
    host = urlsplit(url_or_address).hostname if "://" in url_or_address else url_or_address.rpartition("@")[2]
    host = (host or "").lower().rstrip(".>")
    return (
        host in _RESERVED_DOMAINS
        or host.endswith(_RESERVED_SUFFIXES)
        or any(host.endswith("." + d) for d in _RESERVED_DOMAINS)
    )
