from __future__ import annotations

from pathlib import Path

import pytest

from touchline.console.auth import (
    SessionSigner,
    User,
    UsersFileError,
    UserStore,
    hash_password,
    verify_password,
)


def test_a_password_verifies_against_its_scrypt_hash_and_a_wrong_one_does_not() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")


def test_a_malformed_hash_never_verifies() -> None:
    assert not verify_password("x", "not-a-hash")
    assert not verify_password("x", "bcrypt$1$2$3$abc$def")


def test_a_session_cookie_reads_back_until_it_expires() -> None:
    signer = SessionSigner(b"k", max_age_seconds=3600)
    cookie = signer.issue("a@example.com", now=1000.0)
    session = signer.read(cookie, now=1500.0)
    assert session is not None and session.email == "a@example.com"
    assert signer.read(cookie, now=1000.0 + 3601) is None


def test_a_tampered_or_foreign_cookie_is_refused() -> None:
    signer = SessionSigner(b"k", max_age_seconds=3600)
    cookie = signer.issue("a@example.com", now=1000.0)
    signature = cookie.partition(".")[2]
    forged = signer.issue("b@example.com", now=1000.0).partition(".")[0] + "." + signature
    assert signer.read(forged, now=1001.0) is None
    assert SessionSigner(b"other", max_age_seconds=3600).read(cookie, now=1001.0) is None
    assert signer.read("garbage", now=1001.0) is None
    assert signer.read(None, now=1001.0) is None


def test_a_csrf_token_is_valid_only_for_the_session_it_was_issued_to() -> None:
    signer = SessionSigner(b"k", max_age_seconds=3600)
    mine = signer.read(signer.issue("a@example.com", now=1.0), now=2.0)
    theirs = signer.read(signer.issue("b@example.com", now=1.0), now=2.0)
    assert mine and theirs
    assert signer.csrf_ok(mine, signer.csrf_token(mine))
    assert not signer.csrf_ok(mine, signer.csrf_token(theirs))
    assert not signer.csrf_ok(mine, None)
    assert not signer.csrf_ok(mine, "")


def test_users_round_trip_through_the_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    store = UserStore({})
    store.put(User(email="a@example.com", name="A", password_hash=hash_password("pw-123456789"), locale="en"))
    store.save(path)
    loaded = UserStore.load(path)
    assert loaded.authenticate("A@example.com ", "pw-123456789") is not None
    assert loaded.authenticate("a@example.com", "wrong") is None
    assert loaded.authenticate("nobody@example.com", "pw-123456789") is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_missing_users_file_means_nobody_can_sign_in(tmp_path: Path) -> None:
    assert UserStore.load(tmp_path / "absent.yaml").all() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("users: {}", "field 'users' must be a list"),
        ("users: [{name: A, password_hash: 'scrypt$x'}]", "users[0]: field 'email' is required"),
        ("users: [{email: a@x, name: A, password_hash: plain}]", "field 'password_hash' must be a scrypt hash"),
        ("users: [{email: a@x, name: A, password_hash: 'scrypt$x', locale: fr}]", "field 'locale' must be one of"),
        ("users: [", "not valid YAML"),
    ],
)
def test_a_bad_users_file_is_refused_naming_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(content)
    with pytest.raises(UsersFileError, match=r"users\.yaml") as info:
        UserStore.load(path)
    assert message in str(info.value)


def test_a_team_lists_its_members() -> None:
    store = UserStore({})
    for email, team in (("a@x.io", "east"), ("b@x.io", "east"), ("c@x.io", "west")):
        store.put(User(email=email, name=email, password_hash="scrypt$", team=team))
    assert store.team_of("a@x.io") == ["a@x.io", "b@x.io"]


def test_a_session_cookie_with_non_ascii_signature_is_no_session() -> None:
    from touchline.console.auth import SessionSigner

    signer = SessionSigner(b"k" * 32, max_age_seconds=60)
    payload = signer.issue("a@example.com", now=0).partition(".")[0]
    assert signer.read(f"{payload}.签名", now=1) is None


def test_a_device_token_proves_one_email_and_only_with_the_secret() -> None:
    signer = SessionSigner(b"k" * 32, max_age_seconds=60)
    token = signer.device_token("Aiko@Example.com")
    assert signer.device_ok(token, "aiko@example.com")
    assert not signer.device_ok(token, "ken@example.com")
    assert not SessionSigner(b"x" * 32, max_age_seconds=60).device_ok(token, "aiko@example.com")
    forged = SessionSigner(b"k" * 32, max_age_seconds=60).device_token("ken@example.com").split(".")[0]
    assert not signer.device_ok(f"{forged}.{token.split('.')[1]}", "ken@example.com")
    assert not signer.device_ok(None, "aiko@example.com") and not signer.device_ok("junk", "aiko@example.com")
