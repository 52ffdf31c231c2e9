from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

from touchline.notify.domain.email import (
    Account,
    Contact,
    classify_smtp,
    delivery_id,
    gives_up,
    is_machine_open,
    pick_locale,
    resolve_recipients,
    suppressed,
)
from touchline.notify.domain.mime import Outgoing, compose, message_id_for

CONTACTS = [
    Contact("u1", "a@x.com", "A", "ja", "admin"),
    Contact("u2", "b@x.com", "B", None, "user"),
    Contact("u3", None, "C", "en", "admin"),  # no address: cannot be mailed
    Contact("u4", "A@X.com", "A again", None, "user"),  # same address as u1
]
ACCOUNT = Account("acc", "Acme", "csm@us.com", "en", "high")


def test_contacts_role_mails_every_known_address_once():
    out = resolve_recipients(role="contacts", user_ids=[], contacts=CONTACTS, account=ACCOUNT, default_locale="en")
    assert [r.email for r in out] == ["a@x.com", "b@x.com"]


def test_admins_role_falls_back_to_all_contacts_when_no_admin_has_an_address():
    contacts = [Contact("u2", "b@x.com", role="user")]
    out = resolve_recipients(role="admins", user_ids=[], contacts=contacts, account=ACCOUNT, default_locale="en")
    assert [r.email for r in out] == ["b@x.com"]


def test_admins_role_picks_admins_and_decision_makers():
    out = resolve_recipients(role="admins", user_ids=[], contacts=CONTACTS, account=ACCOUNT, default_locale="en")
    assert [r.email for r in out] == ["a@x.com"]


def test_users_role_picks_the_contacts_who_are_not_admins():
    contacts = [*CONTACTS, Contact("u5", "d@x.com", role="decision_maker"), Contact("u6", "e@x.com")]
    out = resolve_recipients(role="users", user_ids=[], contacts=contacts, account=ACCOUNT, default_locale="en")
    assert [r.email for r in out] == ["b@x.com", "A@X.com", "e@x.com"]


def test_users_role_reaches_nobody_when_every_contact_is_an_admin():
    contacts = [Contact("u1", "a@x.com", role="admin"), Contact("u5", "d@x.com", role="decision_maker")]
    assert resolve_recipients(role="users", user_ids=[], contacts=contacts, account=ACCOUNT, default_locale="en") == []


def test_csm_owner_role_is_internal_mail_to_the_accounts_csm():
    out = resolve_recipients(role="csm_owner", user_ids=[], contacts=CONTACTS, account=ACCOUNT, default_locale="en")
    assert [(r.email, r.internal) for r in out] == [("csm@us.com", True)]


def test_user_role_mails_only_the_named_users():
    out = resolve_recipients(role="user", user_ids=["u2"], contacts=CONTACTS, account=ACCOUNT, default_locale="en")
    assert [r.email for r in out] == ["b@x.com"]


def test_locale_is_the_contacts_then_the_accounts_then_the_default():
    out = resolve_recipients(role="contacts", user_ids=[], contacts=CONTACTS, account=ACCOUNT, default_locale="ja")
    assert [r.locale for r in out] == ["ja", "en"]
    assert pick_locale(None, None, default="ja") == "ja"
    assert pick_locale("ja-JP", "en", default="en") == "ja"
    assert pick_locale("fr", None, default="en") == "en"


def test_unsubscribed_customers_are_suppressed_but_internal_mail_is_not():
    customer, csm = (
        resolve_recipients(role=r, user_ids=[], contacts=CONTACTS, account=ACCOUNT, default_locale="en")[0]
        for r in ("contacts", "csm_owner")
    )
    assert suppressed(customer, unsubscribed=True)
    assert not suppressed(customer, unsubscribed=False)
    assert not suppressed(csm, unsubscribed=True)


def test_delivery_id_is_the_same_for_the_same_command_and_address():
    assert delivery_id("c1", "A@x.com") == delivery_id("c1", "a@x.com ")
    assert delivery_id("c1", "a@x.com") != delivery_id("c2", "a@x.com")


def test_5xx_is_permanent_4xx_and_no_answer_are_transient():
    assert classify_smtp(550) == "permanent"
    assert classify_smtp(451) == "transient"
    assert classify_smtp(None) == "transient"


def test_gives_up_only_after_the_allowed_time():
    t0 = datetime(2027, 1, 1, tzinfo=UTC)
    assert not gives_up(first_attempt_at=t0, now=t0 + timedelta(hours=1), after=timedelta(hours=2))
    assert gives_up(first_attempt_at=t0, now=t0 + timedelta(hours=2), after=timedelta(hours=2))


def test_opens_within_seconds_of_sending_look_automatic():
    sent = datetime(2027, 1, 1, tzinfo=UTC)
    assert is_machine_open(sent_at=sent, opened_at=sent + timedelta(seconds=2), within_seconds=10)
    assert not is_machine_open(sent_at=sent, opened_at=sent + timedelta(minutes=5), within_seconds=10)


def test_composed_mail_has_message_id_and_one_click_unsubscribe_headers():
    mail = Outgoing(
        message_id=message_id_for("d1", domain="t.example"),
        mail_from="CS <cs@t.example>",
        to="a@x.com",
        to_name="山田",
        subject="ようこそ",
        html="<p>hi</p>",
        text="hi",
        unsubscribe_url="https://n/u/tok",
        sent_at=datetime(2027, 1, 1, tzinfo=UTC),
        delivery_id="d1",
        template="onboarding.welcome",
    )
    parsed = message_from_bytes(compose(mail).as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<d1@t.example>"
    assert parsed["X-Touchline-Template"] == "onboarding.welcome"
    assert parsed["List-Unsubscribe"] == "<https://n/u/tok>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == "ようこそ"
    assert {p.get_content_type() for p in parsed.iter_parts()} == {"text/plain", "text/html"}
