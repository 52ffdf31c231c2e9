"""Webinar invitations: the RSVP link signs the webinar and its seats; one seat per address, none beyond."""

from datetime import UTC, datetime

import pytest

from touchline.notify.compose import Composer, template_context
from touchline.notify.domain.branding import Brand
from touchline.notify.domain.email import Recipient
from touchline.notify.domain.tokens import BadToken, verify_link
from touchline.notify.domain.webinars import BadWebinar, Seats, decide_rsvp, rsvp_claim
from touchline.notify.handlers import survey_refusal
from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.templates import Catalog
from touchline.touch.domain.segments import Segment
from touchline.touch.domain.webinars import Webinar, invitation

SECRET = "unit-link-secret"
BRAND = Brand("Acme Cloud", "https://help.acme.test", "https://support.acme.test", None)
WEBINAR = Webinar(
    id="w1",
    title="Reports <deep dive>",
    starts_at=datetime(2030, 5, 1, 9, tzinfo=UTC),
    capacity=12,
    segment=Segment(tiers=("low",)),
    created_at=datetime(2030, 4, 1, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


def render(catalog: Catalog, *, locale: str) -> dict:
    variables = invitation(WEBINAR, "acc", at=WEBINAR.created_at).variables
    context = template_context(account=None, account_id="acc", contact=None, variables=variables, brand=BRAND)
    composer = Composer(
        catalog, public_url="http://n", link_secret=SECRET, mail_from="CS <cs@x.test>", default_locale="en", brand=BRAND
    )
    return composer.delivery_row(
        delivery_id="d1",
        template="webinar.invite",
        recipient=Recipient("a@x.test", "A", locale, "u1"),
        context=context,
        now=datetime(2030, 4, 2, tzinfo=UTC),
        source={"command_id": "c1", "dedup_key": "c1", "account_id": "acc"},
    )


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_invitation_carries_an_rsvp_link_signed_for_the_webinar_and_its_seats(catalog, locale):
    row = render(catalog, locale=locale)
    for body in (row["html"], row["body_text"]):
        token = body.split("http://n/t/r/")[1].split('"')[0].split()[0]
        claim = verify_link(SECRET, token, kind="rsvp")
        assert (claim.delivery_id, claim.answer) == ("d1", {"webinar": "w1", "capacity": 12})
    assert "Reports <deep dive>" in row["subject"]
    assert "Reports &lt;deep dive&gt;" in row["html"]


def test_an_rsvp_token_is_no_answer_or_click_token(catalog):
    token = render(catalog, locale="en")["html"].split("http://n/t/r/")[1].split('"')[0]
    with pytest.raises(BadToken):
        verify_link(SECRET, token, kind="answer")


@pytest.mark.parametrize(
    ("webinar", "field"),
    [
        ({"capacity": 3}, "variables.webinar.id"),
        ({"id": "", "capacity": 3}, "variables.webinar.id"),
        ({"id": "w", "capacity": 0}, "variables.webinar.capacity"),
        ({"id": "w", "capacity": True}, "variables.webinar.capacity"),
        ({"id": "w", "capacity": "12"}, "variables.webinar.capacity"),
    ],
)
def test_a_webinar_that_cannot_make_an_rsvp_link_is_refused_naming_the_field(catalog, webinar, field):
    with pytest.raises(BadWebinar, match=field.replace(".", r"\.")):
        rsvp_claim(webinar)
    assert field in (survey_refusal(catalog, "webinar.invite", {"webinar": webinar}) or "")


def test_an_invitation_command_without_its_webinar_is_refused(catalog):
    assert "variables.webinar.id" in (survey_refusal(catalog, "webinar.invite", {}) or "")
    assert survey_refusal(catalog, "webinar.invite", {"webinar": {"id": "w", "capacity": 1, "title": "T"}}) is None


def test_the_last_seat_goes_to_one_person_and_a_second_click_keeps_it():
    assert decide_rsvp(Seats(taken=11, mine=False), capacity=12) == "registered"
    assert decide_rsvp(Seats(taken=12, mine=False), capacity=12) == "full"
    assert decide_rsvp(Seats(taken=12, mine=True), capacity=12) == "already"
