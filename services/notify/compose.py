"""Turning a command + recipient into a stored delivery: rendered mail with every link signed for it."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .domain.branding import Brand
from .domain.email import Account, Contact, Recipient
from .domain.mime import message_id_for
from .domain.surveys import check_offered, normalise_answer, offered_features
from .domain.tokens import LinkClaim, sign_link
from .domain.webinars import rsvp_claim
from .templates import Catalog, Links


@dataclass(frozen=True)
class Composer:
    catalog: Catalog
    public_url: str
    link_secret: str
    mail_from: str
    default_locale: str
    brand: Brand

    @property
    def mail_domain(self) -> str:
        return email.utils.parseaddr(self.mail_from)[1].rpartition("@")[2] or "touchline.invalid"

    def _url(self, path: str, claim: LinkClaim) -> str:
        return f"{self.public_url.rstrip('/')}/{path}/{sign_link(self.link_secret, claim)}"

    def links(
        self,
        delivery_id: str,
        *,
        internal: bool,
        offered: Sequence[str] | None = None,
        webinar: Mapping[str, Any] | None = None,
    ) -> Links:
        """The mail's link makers; ``offered`` are the features a feature survey may name (the command's);
        ``webinar`` (the command's ``variables.webinar``) signs an RSVP link for its id and capacity."""
        indices: dict[str, int] = {}

        def link(url: str) -> str:
            index = indices.setdefault(url, len(indices))
            return self._url("t/c", LinkClaim("click", delivery_id, index=index, url=url))

        def answer(**values: Any) -> str:
            # Checked at render time, so a template can never ship an answer the contract rejects.
            given = normalise_answer(values)
            if given["survey"] == "feature_usefulness":
                check_offered(given, offered or [])
            return self._url("t/a", LinkClaim("answer", delivery_id, answer=given))

        unsubscribe = None if internal else self._url("u", LinkClaim("unsubscribe", delivery_id))
        rsvp = None
        if webinar is not None:
            seats = rsvp_claim(webinar)
            rsvp = self._url("t/r", LinkClaim("rsvp", delivery_id, answer=seats))
        return Links(link=link, answer=answer, unsubscribe_url=unsubscribe, rsvp_url=rsvp)

    def pixel(self, delivery_id: str) -> str:
        return self._url("t/o", LinkClaim("open", delivery_id)) + ".gif"

    def delivery_row(
        self,
        *,
        delivery_id: str,
        template: str,
        recipient: Recipient,
        context: Mapping[str, Any],
        now: datetime,
        source: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The deliveries row (state pending). KeyError when the template does not exist; BadAnswer
        naming ``variables.features`` when a feature survey has no valid features to offer."""
        offered = None
        if self.catalog.survey_of(template) == "feature_usefulness":
            offered = offered_features(context.get("vars") or {})
        given = (context.get("vars") or {}).get("webinar")
        webinar = given if isinstance(given, Mapping) else None
        links = self.links(delivery_id, internal=recipient.internal, offered=offered, webinar=webinar)
        rendered = self.catalog.render_email(template, locale=recipient.locale, context=context, links=links)
        pixel = f'<img src="{self.pixel(delivery_id)}" width="1" height="1" alt="" style="display:none">'
        html = (
            rendered.html.replace("</body>", f"{pixel}</body>") if "</body>" in rendered.html else rendered.html + pixel
        )
        return {
            "id": delivery_id,
            "command_id": source["command_id"],
            "dedup_key": source["dedup_key"],
            "account_id": source["account_id"],
            "user_id": recipient.user_id,
            "email": recipient.email,
            "to_name": recipient.name,
            "locale": recipient.locale,
            "template": template,
            "internal": recipient.internal,
            "playbook": source.get("playbook"),
            "step": source.get("step"),
            "enrolment_id": source.get("enrolment_id"),
            "message_id": message_id_for(delivery_id, domain=self.mail_domain),
            "subject": rendered.subject,
            "html": html,
            "body_text": rendered.text,
            "unsubscribe_url": links.unsubscribe_url,
            "created_at": now,
        }


def template_context(
    *, account: Account | None, account_id: str, contact: Contact | None, variables: Mapping[str, Any], brand: Brand
) -> dict[str, Any]:
    """What templates see: account, contact, vars (the command's variables) and those at top level, and
    the settings' product, help_url, support_url and support_phone (a command cannot override them)."""
    given = variables.get("account")
    given_account: dict[str, Any] = given if isinstance(given, dict) else {}
    account_view = {
        "id": account_id,
        "name": (account.name if account else None) or account_id,
        "renewal_date": variables.get("renewal_date"),
        **given_account,
    }
    contact_view = {"name": contact.name if contact else None, "email": contact.email if contact else None}
    return {
        **variables,
        "vars": dict(variables),
        "account": account_view,
        "contact": contact_view,
        **brand.context(),
    }
