"""CSM users, password hashes, signed session cookies and CSRF tokens — stdlib only.

Passwords: scrypt (hashlib) with a random salt, stored as ``scrypt$n$r$p$salt$hash``.
Sessions: ``base64(json) . base64(HMAC-SHA256)`` in an HttpOnly cookie; the server keeps no
session table, so a cookie is valid until it expires (``session_hours``) or the secret changes.
CSRF: every form carries HMAC(secret, "csrf" + session nonce), so a token works only with the
session it was issued for — a page on another site, or another CSM, cannot forge one.
Device cookie: HMAC(secret, "device" + email), set at sign-in; see ``throttle``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import yaml

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LOCALES = ("ja", "en")
ROLES = ("csm", "manager", "admin")
# What each role may do beyond what every signed-in person may (read any account page, override,
# act on enrolments, work the tasks in their own inbox). docs/console.md shows this table.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "accounts.all": ("manager", "admin"),  # the account list's "all accounts" scope
    "tasks.team": ("manager", "admin"),  # the team's task inbox
    "tasks.reassign": ("manager", "admin"),  # hand a task to someone else
    "audit.read": ("manager", "admin"),  # the audit log page
    "users.read": ("admin",),  # the users page (changes: `touchline console adduser`)
    "config.validate": ("admin",),  # scorecard and playbook validation
}


@dataclass(frozen=True)
class User:
    email: str
    name: str
    password_hash: str
    locale: str = "ja"
    team: str = "default"
    role: str = "csm"

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


@dataclass(frozen=True)
class Session:
    email: str
    issued_at: float
    nonce: str


class UsersFileError(ValueError):
    pass


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, expected = stored.split("$")
        if kind != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, _unb64(expected))


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong email costs as long as a wrong password."""
    return hash_password("unused", salt=b"\0" * 16)


class UserStore:
    """The people allowed in, read from a YAML file: ``users: [{email, name, password_hash, locale, team,
    role}]`` (role: csm, manager or admin; csm when left out)."""

    def __init__(self, users: dict[str, User]) -> None:
        self._users = users

    @classmethod
    def load(cls, path: Path) -> UserStore:
        if not path.exists():
            return cls({})
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise UsersFileError(f"{path}: not valid YAML: {exc}") from exc
        entries = data.get("users", []) if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise UsersFileError(f"{path}: field 'users' must be a list")
        users: dict[str, User] = {}
        for i, entry in enumerate(entries):
            user = _parse_user(entry, where=f"{path}: users[{i}]")
            users[user.email] = user
        return cls(users)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"users": [asdict(u) for u in sorted(self._users.values(), key=lambda u: u.email)]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def put(self, user: User) -> None:
        self._users[user.email] = user

    def get(self, email: str) -> User | None:
        return self._users.get(email.strip().lower())

    def all(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.email)

    def team_of(self, email: str) -> list[str]:
        me = self.get(email)
        if me is None:
            return [email]
        return [u.email for u in self.all() if u.team == me.team]

    def authenticate(self, email: str, password: str) -> User | None:
        user = self.get(email)
        ok = verify_password(password, user.password_hash if user else _dummy_hash())
        return user if ok and user else None


def _parse_user(entry: object, *, where: str) -> User:
    if not isinstance(entry, dict):
        raise UsersFileError(f"{where}: must be a mapping")
    for name in ("email", "name", "password_hash"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise UsersFileError(f"{where}: field '{name}' is required (a non-empty string)")
    locale = entry.get("locale", "ja")
    if locale not in LOCALES:
        raise UsersFileError(f"{where}: field 'locale' must be one of {', '.join(LOCALES)}")
    role = entry.get("role", "csm")
    if role not in ROLES:
        raise UsersFileError(
            f"{where} ({entry['email']}): field 'role' must be one of {', '.join(ROLES)}, not {role!r}"
        )
    if not str(entry["password_hash"]).startswith("scrypt$"):
        raise UsersFileError(f"{where}: field 'password_hash' must be a scrypt hash (use `touchline console adduser`)")
    return User(
        email=entry["email"].strip().lower(),
        name=entry["name"],
        password_hash=entry["password_hash"],
        locale=locale,
        team=str(entry.get("team", "default")),
        role=role,
    )


class SessionSigner:
    def __init__(self, secret: bytes, *, max_age_seconds: float) -> None:
        self._secret = secret
        self._max_age = max_age_seconds

    def issue(self, email: str, *, now: float) -> str:
        payload = _b64(json.dumps({"e": email, "t": now, "n": secrets.token_urlsafe(16)}).encode())
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str | None, *, now: float) -> Session | None:
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(email=str(data["e"]), issued_at=float(data["t"]), nonce=str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        if not (session.issued_at <= now + 60 and now - session.issued_at < self._max_age):
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.nonce}")

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf_token(session).encode())

    def device_token(self, email: str) -> str:
        """Proof that this browser signed in as ``email`` before (the login throttle lets it
        past the per-account delay a stranger's guesses from elsewhere cause)."""
        payload = _b64(email.strip().lower().encode())
        return f"{payload}.{self._sign(f'device:{payload}')}"

    def device_ok(self, token: str | None, email: str) -> bool:
        if not token or "." not in token:
            return False
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(f"device:{payload}").encode()):
            return False
        return payload == _b64(email.strip().lower().encode())

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._secret, text.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
