"""What an event means to Touchline: well-known names and canonical traits. Pure."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from .domain import Call, Problem

# A ProductEvent (touchline.shared.messages) as the dict of its fields, datetimes as datetime.
EventDoc = dict[str, Any]

Semantic = str  # one of ProductEvent.semantic's literals

_NAMES: dict[str, Semantic] = {}
for _semantic, _names in {
    "login": ("Signed In", "Logged In", "Login", "Log In", "Sign In", "User Logged In", "User Signed In"),
    "feature_used": ("Feature Used",),
    "signed": ("Contract Signed", "Account Created"),
    "renewed": ("Account Renewed", "Subscription Renewed"),
    "cancelled": (
        "Account Cancelled",
        "Subscription Cancelled",
        "Churned",
        "Account Canceled",
        "Subscription Canceled",
    ),
    "support_ticket": ("Support Ticket Opened",),
    "webinar_attended": ("Webinar Attended", "Event Attended"),
}.items():
    for _name in _names:
        _NAMES[re.sub(r"[^a-z0-9]", "", _name.lower())] = _semantic


@functools.lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    """'Signed In', 'signed_in', 'signedIn', 'SIGNED-IN' all compare equal."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def classify(event: str | None, properties: Mapping[str, Any]) -> tuple[Semantic, str | None]:
    """(semantic, feature) of a track call; any unknown name is still carried as "other"."""
    feature = None
    for key in ("feature", "feature_name", "featureName"):  # a loop, not next(genexpr): every track call
        value = properties.get(key)
        if value is not None and value != "":
            feature = str(value)
            break
    semantic = _NAMES.get(_norm(event or ""))
    if semantic is not None:
        if semantic == "feature_used" and feature is None and properties.get("name") not in (None, ""):
            feature = str(properties["name"])
        return semantic, feature
    if feature is not None:
        return "feature_used", feature
    return "other", None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").strip())
        except ValueError:
            return None
    return None


# The largest integer every JSON reader (JavaScript's included) holds exactly: amounts and counts
# beyond it are typing mistakes, and past 2^64 no consumer's decoder takes them at all.
MAX_AMOUNT = 2**53


def _amount(value: Any) -> float | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or abs(number) > MAX_AMOUNT:
        return None
    return number


def _count(value: Any) -> int | float | None:
    number = _amount(value)
    if number is None or number < 0:
        return None
    return int(number) if number.is_integer() else number


def _iso_date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def _iso_datetime(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.isoformat()


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    return None


def _locale(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    lang = value.strip().lower().replace("_", "-").split("-")[0]
    if not lang:
        return None
    # Touchline writes to customers in Japanese or English only; every other language reads English.
    return "ja" if lang in ("ja", "japanese") else "en"


def _email(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
        return value.strip().lower()
    return None


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        text = str(value).strip().lower().replace(" ", "_").replace("-", "_") if value is not None else ""
        return text if text in allowed else None

    return check


def _role(value: Any) -> str | None:
    text = _norm(str(value)) if value is not None else ""
    if text in ("admin", "administrator", "owner", "superadmin"):
        return "admin"
    if text in ("decisionmaker", "buyer", "executive", "sponsor", "executivesponsor", "champion"):
        return "decision_maker"
    # A product's own roles vary endlessly; anyone not recognisably admin or decision maker is a user.
    return "user" if text else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


# canonical key -> (aliases as _norm'ed names, coercion, what is expected)
Rule = tuple[tuple[str, ...], Callable[[Any], Any], str]
GROUP_RULES: dict[str, Rule] = {
    "name": (("name", "accountname", "companyname"), _text, "a string"),
    "plan": (("plan", "planname", "tier"), _text, "a string"),
    "arr": (("arr", "annualrevenue", "annualrecurringrevenue"), _amount, "a number (yearly) of at most 2^53"),
    "mrr": (("mrr", "monthlyrevenue", "monthlyrecurringrevenue"), _amount, "a number (monthly) of at most 2^53"),
    "seats": (
        ("seats", "seatspurchased", "licenses", "licences", "seatcount"),
        _count,
        "a non-negative number of at most 2^53",
    ),
    "renewal_date": (
        ("renewaldate", "renewal", "renewalon", "contractenddate", "contractend"),
        _iso_date,
        "an ISO date",
    ),
    "csm_owner": (("csmowner", "csm", "csmemail", "accountowner", "owneremail"), _email, "an email address"),
    "lifecycle_stage": (
        ("lifecyclestage", "lifecycle", "stage"),
        _one_of("onboarding", "adoption", "retention", "churned"),
        "one of onboarding, adoption, retention, churned",
    ),
    "locale": (("locale", "language", "lang"), _locale, "a language tag (e.g. ja-JP)"),
    "signed_at": (
        ("signedat", "contractsignedat", "contractstartdate", "contractstart"),
        _iso_datetime,
        "an ISO date-time",
    ),
    "business_shrinking": (("businessshrinking",), _bool, "true or false"),
    "roi": (("roi",), lambda v: n if (n := _number(v)) is not None and 0 <= n <= 10 else None, "a number 0-10"),
}
IDENTIFY_RULES: dict[str, Rule] = {
    "email": (("email", "emailaddress"), _email, "an email address"),
    "name": (("name", "fullname"), _text, "a string"),
    "locale": (("locale", "language", "lang"), _locale, "a language tag (e.g. en-US)"),
    "role": (("role", "userrole", "persona"), _role, "a string"),
}


def canonical_traits(
    traits: Mapping[str, Any], *, rules: Mapping[str, Rule], path: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Map common aliases to canonical keys; other traits are kept as sent.

    A canonical trait whose value cannot be read is a problem naming the field: silently
    dropping a renewal date or an ARR would mislead every score computed from it.
    """
    by_norm = {_norm(k): k for k in traits}
    out: dict[str, Any] = {}
    used: set[str] = set()
    problems: list[Problem] = []
    for canonical, (aliases, coerce, expected) in rules.items():
        source = next((by_norm[a] for a in aliases if a in by_norm and traits[by_norm[a]] is not None), None)
        if source is None:
            continue
        used.add(source)
        value = coerce(traits[source])
        if value is None:
            problems.append(Problem(f"{path}.{source}", f"expected {expected}, got {str(traits[source])[:40]!r}"))
            continue
        out[canonical] = value
    if "arr" not in out and "mrr" in out:
        out["arr"] = out["mrr"] * 12
    rest = {k: v for k, v in traits.items() if k not in used}
    return {**rest, **out}, problems


def normalise(call: Call, *, path: str) -> Call | list[Problem]:
    """Canonical traits on group and identify calls (problems name the trait's path)."""
    rules = GROUP_RULES if call.kind == "group" else IDENTIFY_RULES if call.kind == "identify" else None
    if rules is None:
        return call
    traits, problems = canonical_traits(call.traits, rules=rules, path=f"{path}.traits")
    return problems or replace(call, traits=traits)


def event_document(call: Call, *, account_id: str, source: str) -> EventDoc:
    """The ProductEvent of a call, as the dict of its fields.

    Every field was validated when the call was parsed; building pydantic models on the hot path
    was a third of ingest's CPU per event. Unit tests pin that ``ProductEvent.model_validate`` of
    this dict is the contract's event, and consumers read it with the shared decoder.
    """
    semantic, feature = classify(call.event, call.properties) if call.kind == "track" else ("other", None)
    return {
        "message_id": call.message_id,
        "account_id": account_id,
        "kind": call.kind,
        "event": call.event,
        "semantic": semantic,
        "feature": feature,
        "user_id": call.user_id,
        "anonymous_id": call.anonymous_id,
        "timestamp": call.timestamp,
        "received_at": call.received_at,
        "source": source,
        "properties": call.properties,
        "traits": call.traits,
        "context": call.context,
    }
