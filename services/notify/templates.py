"""The template catalogue: email (HTML + text, ja + en) and in-app definitions, checked at start-up.

Email templates are Jinja2 files ``email/<name>.<locale>.html`` (with a ``subject`` block) and
``email/<name>.<locale>.txt``; in-app messages are ``inapp/<name>.yaml``. Autoescaping is on for
HTML. Links are made by functions the renderer passes in (``link(url)``, ``answer(**answer)``,
``unsubscribe_url``), so every URL in a mail is signed for that delivery.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .domain.email import LOCALES
from .domain.surveys import SURVEYS

# Every template touch's seed playbooks reference (the cross-service contract), plus our own.
CONTRACT_TEMPLATES = (
    "onboarding.welcome", "onboarding.training_invite", "onboarding.setup_material", "onboarding.tips",
    "onboarding.thanks", "onboarding.reminder", "onboarding.satisfaction_survey",
    "renewal.reminder_survey", "renewal.offer", "renewal.thanks",
    "risk.decline_notice", "risk.use_cases", "risk.feature_survey",
    "advocacy.nps_survey", "advocacy.passive_thanks", "advocacy.promoter_referral_ask", "advocacy.reminder",
    "advocacy.gift_thanks", "reengagement.news", "churn.exit_survey",
)  # fmt: skip
TASK_TEMPLATE = "task.assigned"


class TemplateError(ValueError):
    """A template file is missing or wrong; the message names the file and field."""


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str | int
    label: str


class InAppText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    body: str = ""
    question: str | None = None
    choices: list[Choice] = Field(default_factory=list)
    cta_label: str | None = None
    cta_url: str | None = None


class InAppDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["popup", "announcement", "survey"]
    survey: str | None = None
    expires_days: float | None = None
    ja: InAppText
    en: InAppText


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class RenderedInApp:
    kind: str
    survey: str | None
    title: str
    body: str
    question: str | None
    choices: list[dict[str, Any]]
    cta_label: str | None
    cta_url: str | None
    expires_days: float | None


@dataclass(frozen=True)
class Links:
    link: Callable[[str], str]
    answer: Callable[..., str]
    unsubscribe_url: str | None
    rsvp_url: str | None = None  # a webinar invitation's signed RSVP link (vars.webinar)


class Catalog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        loader = jinja2.FileSystemLoader(str(folder / "email"))
        # Templates are checked at start-up and read once: no file system look-up per mail (an
        # edited template would not have been checked; a restart takes it, checked).
        undefined = jinja2.ChainableUndefined
        self._html = jinja2.Environment(loader=loader, autoescape=True, undefined=undefined, auto_reload=False)
        self._text = jinja2.Environment(loader=loader, autoescape=False, undefined=undefined, auto_reload=False)
        self._emails: frozenset[str] | None = None
        self._strings = jinja2.Environment(autoescape=False, undefined=jinja2.ChainableUndefined)
        self.inapp: dict[str, InAppDefinition] = {}

    @classmethod
    def load(cls, folder: Path) -> Catalog:
        catalog = cls(folder)
        catalog._check_email()
        catalog._load_inapp()
        return catalog

    def email_names(self) -> list[str]:
        names = {p.name.rsplit(".", 2)[0] for p in (self.folder / "email").glob("*.html") if not p.name.startswith("_")}
        return sorted(names)

    def _check_email(self) -> None:
        for name in (*CONTRACT_TEMPLATES, TASK_TEMPLATE, *self.email_names()):
            for locale in LOCALES:
                for ext in ("html", "txt"):
                    path = self.folder / "email" / f"{name}.{locale}.{ext}"
                    if not path.is_file():
                        raise TemplateError(f"{path}: missing (every email template needs html and txt, ja and en)")
                    env = self._html if ext == "html" else self._text
                    try:
                        template = env.get_template(path.name)
                    except jinja2.TemplateSyntaxError as exc:
                        raise TemplateError(f"{path}:{exc.lineno}: {exc.message}") from exc
                    if ext == "html" and "subject" not in template.blocks:
                        raise TemplateError(f"{path}: field 'subject': the HTML template needs a subject block")

    def _load_inapp(self) -> None:
        for path in sorted((self.folder / "inapp").glob("*.yaml")):
            try:
                definition = InAppDefinition.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
            except ValidationError as exc:
                where = ", ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors())
                raise TemplateError(f"{path}: {where}") from exc
            except yaml.YAMLError as exc:
                raise TemplateError(f"{path}: not YAML: {exc}") from exc
            if definition.kind == "survey" and definition.survey not in SURVEYS:
                raise TemplateError(f"{path}: field 'survey': expected one of {', '.join(SURVEYS)}")
            self.inapp[path.stem] = definition
        for name in CONTRACT_TEMPLATES:
            if name not in self.inapp:
                raise TemplateError(f"{self.folder / 'inapp' / (name + '.yaml')}: missing")

    def survey_of(self, name: str) -> str | None:
        """The survey a template asks (its in-app definition says; the mail of the same name asks it too)."""
        definition = self.inapp.get(name)
        return definition.survey if definition is not None else None

    def has_email(self, name: str) -> bool:
        if self._emails is None:  # the folder as it was at start-up, like the templates themselves
            suffix = ".en.html"
            self._emails = frozenset(p.name[: -len(suffix)] for p in (self.folder / "email").glob(f"*{suffix}"))
        return name in self._emails

    def render_email(self, name: str, *, locale: str, context: Mapping[str, Any], links: Links) -> RenderedEmail:
        """Render subject, HTML and text; KeyError if there is no such template."""
        if not self.has_email(name) or locale not in LOCALES:
            raise KeyError(f"no email template {name!r} for locale {locale!r}")
        values = {**context, "link": links.link, "answer": links.answer, "unsubscribe_url": links.unsubscribe_url}
        values["rsvp_url"] = links.rsvp_url
        html_t = self._html.get_template(f"{name}.{locale}.html")
        # The subject block is rendered by the HTML environment (escaped); a header is plain text.
        subject = html.unescape("".join(html_t.blocks["subject"](html_t.new_context(values))))
        body = html_t.render(values)
        text = self._text.get_template(f"{name}.{locale}.txt").render(values)
        return RenderedEmail(subject=" ".join(subject.split()), html=body, text=text)

    def render_inapp(self, name: str, *, locale: str, context: Mapping[str, Any]) -> RenderedInApp:
        definition = self.inapp.get(name)
        if definition is None:
            raise KeyError(f"no in-app template {name!r}")
        texts: InAppText = getattr(definition, locale if locale in LOCALES else "en")

        def fill(value: str | None) -> str | None:
            return None if value is None else self._strings.from_string(value).render(context)

        return RenderedInApp(
            kind=definition.kind,
            survey=definition.survey,
            title=fill(texts.title) or "",
            body=fill(texts.body) or "",
            question=fill(texts.question),
            choices=[{"value": c.value, "label": fill(c.label)} for c in texts.choices]
            or _feature_choices(definition.survey, context),
            cta_label=fill(texts.cta_label),
            cta_url=fill(texts.cta_url),
            expires_days=definition.expires_days,
        )


def _feature_choices(survey: str | None, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    # A feature survey asks about the features the command names (touch knows which were newly used).
    if survey != "feature_usefulness":
        return []
    features = (context.get("vars") or {}).get("features") or []
    return [{"value": f, "label": str(f)} for f in features if isinstance(f, str)]


SAMPLE_CONTEXT: dict[str, Any] = {
    "account": {"id": "acc-sample", "name": "Acme 株式会社", "renewal_date": "2027-04-01"},
    "contact": {"name": "山田 花子", "email": "hanako@example.com"},
    "product": "Acme Cloud",
    "help_url": "https://help.acme.test",
    "support_url": "https://support.acme.test",
    "support_phone": "+81 3-1234-5678",
    "csm": {"name": "Sato", "email": "csm@example.com"},
    "vars": {"features": ["reports", "dashboards"], "discount": "10%", "score": 42},
    "task": {
        "subject": "Follow up with Acme",
        "type": "renewal_churn_risk",
        "reason": "renewal survey: unlikely",
        "priority": "high",
        "due_at": "2027-01-05",
        "body": "The renewal survey was answered 'unlikely'.",
        "url": "http://127.0.0.1:8005/tasks/sample",
    },
}


def sample_links(public_url: str) -> Links:
    def answer(**values: Any) -> str:
        return f"{public_url}/t/a/sample?" + "&".join(f"{k}={v}" for k, v in values.items())

    return Links(
        link=lambda url: url,
        answer=answer,
        unsubscribe_url=f"{public_url}/u/sample",
        rsvp_url=f"{public_url}/t/r/sample",
    )
