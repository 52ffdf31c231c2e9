"""The mail loop composes with a policy that parses each header value once (domain/mime.POLICY);
the mails must be exactly those of the standard policy, also when a header parsed for an earlier
mail serves a later one."""

import re
from datetime import UTC, datetime
from email import policy

from aiosmtplib.email import flatten_message
from hypothesis import given, settings
from hypothesis import strategies as st

from touchline.notify.domain.mime import POLICY, Outgoing, compose

# Text the way templates and identify traits give it: any script, line breaks, long lines.
words = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n \t"), max_size=120)
senders = st.sampled_from(["Touchline <cs@touchline.invalid>", "サポート <cs@t.example>", "cs@t.example"])
outgoing = st.builds(
    Outgoing,
    message_id=st.uuids().map(lambda u: f"<{u}@t.example>"),
    mail_from=senders,
    to=st.sampled_from(["a@x.com", "b.c+tag@sub.example.org"]),
    to_name=st.none() | words,
    subject=words,
    html=words.map(lambda w: f"<html><body><p>{w}</p></body></html>"),
    text=words,
    unsubscribe_url=st.none() | st.uuids().map(lambda u: f"https://n.example/u/{u}"),
    sent_at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    delivery_id=st.uuids().map(str),
    template=st.none() | st.sampled_from(["onboarding.welcome", "renewal.reminder_survey"]),
)


def _bytes(raw: bytes) -> bytes:
    # The multipart boundary (Python's "===============<digits>==") is random per message: the one
    # thing allowed to differ.
    return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)


def _sent(mail: Outgoing, **policy_given: object) -> tuple[bytes, bytes] | str:
    """What goes on the wire (and the plain rendering), or the error composing it raises (a header
    with a line break is refused, by either policy)."""
    try:
        msg = compose(mail, **policy_given)  # type: ignore[arg-type]
    except ValueError as exc:
        return f"ValueError: {exc}"
    return _bytes(flatten_message(msg)), _bytes(msg.as_bytes())


@settings(max_examples=150, deadline=None)
@given(mail=outgoing)
def test_remembered_headers_compose_the_same_mail_as_the_standard_policy(mail: Outgoing) -> None:
    assert compose(Outgoing(**{**mail.__dict__, "subject": "s", "to_name": None})).policy is POLICY
    for _ in range(2):  # the second time every header of this mail is a remembered one
        assert _sent(mail) == _sent(mail, policy=policy.default)
