"""Write keys: parsed from settings, kept only as SHA-256 hashes, looked up by hash. Pure."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class WriteKeys:
    by_hash: dict[bytes, str]  # sha256(key) -> source name

    @classmethod
    def parse(cls, text: str) -> WriteKeys:
        """'product:k1,product:k2,backfill:k3' -> keys by source; a source may hold several keys (rotation)."""
        by_hash: dict[bytes, str] = {}
        for position, entry in enumerate(e.strip() for e in text.split(",")):
            if not entry:
                continue
            source, sep, key = entry.partition(":")
            if not sep or not source.strip() or not key.strip():
                # Never echo the entry: it holds a secret.
                raise ValueError(f"write_keys: entry {position + 1} is not 'source:key'")
            by_hash[_digest(key.strip())] = source.strip()
        if not by_hash:
            raise ValueError("write_keys: no write key configured")
        return cls(by_hash=by_hash)

    def source_of(self, key: str | None) -> str | None:
        """The source a key belongs to, or None. Comparing digests leaks nothing useful about the key."""
        return None if not key else self.by_hash.get(_digest(key))


def basic_user(header: str | None) -> str | None:
    """The user name of an HTTP Basic Authorization header (Segment puts the write key there)."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None
