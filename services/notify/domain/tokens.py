"""Signed tokens: tracking links in mails and the product's user tokens for the in-app API.

A link token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(secret, payload))``.
The payload names what the link does (open, click, answer, unsubscribe), the delivery it belongs
to and, for a click, the exact URL, so a redirect can only ever go where the signer pointed it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

LinkKind = Literal["open", "click", "answer", "unsubscribe", "rsvp"]
_KIND_CODES: dict[str, LinkKind] = {"o": "open", "c": "click", "a": "answer", "u": "unsubscribe", "r": "rsvp"}
_CODE_OF: dict[LinkKind, str] = {v: k for k, v in _KIND_CODES.items()}


class BadToken(ValueError):
    """The token was not signed by us, was altered, or does not say what the route expects."""


@dataclass(frozen=True)
class LinkClaim:
    kind: LinkKind
    delivery_id: str
    index: int | None = None
    url: str | None = None
    answer: dict[str, Any] | None = None


def user_token(secret: str, user_id: str) -> str:
    """What the product computes for its signed-in user: hex HMAC-SHA256(secret, user_id)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_token(secret: str, *, user_id: str, token: str) -> bool:
    if not user_id or not token:
        return False
    return hmac.compare_digest(user_token(secret, user_id).encode(), token.strip().lower().encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign_link(secret: str, claim: LinkClaim) -> str:
    payload: dict[str, Any] = {"k": _CODE_OF[claim.kind], "d": claim.delivery_id}
    if claim.index is not None:
        payload["i"] = claim.index
    if claim.url is not None:
        payload["u"] = claim.url
    if claim.answer is not None:
        payload["a"] = claim.answer
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
    return f"{body}.{_mac(secret, body)}"


def verify_link(secret: str, token: str, *, kind: LinkKind) -> LinkClaim:
    """The claim a token carries; BadToken if it is forged, altered or of another kind."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not hmac.compare_digest(_mac(secret, body).encode(), mac.encode()):
        raise BadToken("signature does not match")
    try:
        payload = json.loads(_unb64(body))
        claim = LinkClaim(
            kind=_KIND_CODES[payload["k"]],
            delivery_id=str(payload["d"]),
            index=payload.get("i"),
            url=payload.get("u"),
            answer=payload.get("a"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadToken(f"unreadable payload: {exc}") from exc
    if claim.kind != kind:
        raise BadToken(f"a {claim.kind} token used as {kind}")
    return claim
