import hashlib
import hmac

import pytest

from touchline.notify.domain.tokens import BadToken, LinkClaim, sign_link, user_token, verify_link, verify_user_token


def test_user_token_is_hex_hmac_sha256_of_the_user_id():
    expected = hmac.new(b"s3cret", b"user-1", hashlib.sha256).hexdigest()
    assert user_token("s3cret", "user-1") == expected


def test_user_token_verifies_only_for_its_own_user_and_secret():
    token = user_token("s3cret", "user-1")
    assert verify_user_token("s3cret", user_id="user-1", token=token)
    assert not verify_user_token("s3cret", user_id="user-2", token=token)
    assert not verify_user_token("other", user_id="user-1", token=token)
    assert not verify_user_token("s3cret", user_id="user-1", token="")


def test_a_signed_click_link_round_trips_with_its_url_and_index():
    claim = LinkClaim("click", "d-1", index=2, url="https://example.com/a?b=1")
    assert verify_link("k", sign_link("k", claim), kind="click") == claim


def test_an_altered_link_is_refused():
    token = sign_link("k", LinkClaim("click", "d-1", index=0, url="https://example.com/"))
    forged = sign_link("k", LinkClaim("click", "d-1", index=0, url="https://evil.example/"))
    spliced = forged.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(BadToken):
        verify_link("k", spliced, kind="click")
    with pytest.raises(BadToken):
        verify_link("k", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), kind="click")
    with pytest.raises(BadToken):
        verify_link("k", "not-a-token", kind="click")


def test_a_link_signed_with_another_secret_is_refused():
    with pytest.raises(BadToken):
        verify_link("k", sign_link("other", LinkClaim("open", "d-1")), kind="open")


def test_an_open_token_cannot_be_used_as_an_unsubscribe_token():
    with pytest.raises(BadToken):
        verify_link("k", sign_link("k", LinkClaim("open", "d-1")), kind="unsubscribe")


def test_answer_links_carry_the_answer_including_non_ascii():
    claim = LinkClaim("answer", "d-1", answer={"survey": "renewal", "choice": "likely", "comment": "更新"})
    assert verify_link("k", sign_link("k", claim), kind="answer").answer == claim.answer


def test_a_token_with_non_ascii_characters_is_refused_not_an_error() -> None:
    assert verify_user_token("s", user_id="u1", token="é" * 64) is False
    with pytest.raises(BadToken):
        verify_link("s", "eyJ9.ñ", kind="click")
