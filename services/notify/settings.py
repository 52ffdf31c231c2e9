"""Settings of the notify service (env prefix ``TOUCHLINE_NOTIFY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from touchline.shared.settings import ServiceSettings

from .domain.branding import (
    Brand,
    check_mail_from,
    check_phone,
    check_product_name,
    check_url,
    is_placeholder_host,
)
from .domain.endpoints import Endpoint, configured_endpoints
from .domain.origins import AllowedOrigins, parse_origins

TEMPLATES_DIR = Path(__file__).with_name("templates")


class NotifySettings(ServiceSettings):
    """Mail transport, tracking links, in-app identity, CSM task routing."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_NOTIFY_", extra="ignore")

    port: int = Field(8004, description="port of the notify HTTP server (tracking, in-app API, tasks)")
    public_url: str = Field(
        "http://127.0.0.1:8004", description="base URL mail recipients and the in-app widget reach notify on"
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host")
    smtp_port: int = Field(2525, description="SMTP server port")
    smtp_starttls: bool = Field(False, description="upgrade the SMTP connection with STARTTLS")
    smtp_tls: bool = Field(False, description="connect with implicit TLS (SMTPS, usually port 465)")
    smtp_user: str = Field("", description="SMTP user name; empty = no authentication")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password")
    smtp_concurrency: int = Field(
        16, description="mails sent in parallel, each on an SMTP connection kept open for the next mails"
    )
    smtp_timeout_seconds: float = Field(30.0, description="timeout of one SMTP conversation")
    mail_from: str = Field(
        "Touchline <cs@touchline.invalid>",
        description="From: of customer mails (the sender, e.g. 'Acme <cs@acme.com>'); the dev default is refused in prod",
    )
    product_name: str = Field(
        "Touchline",
        description="the product's name as its customers know it, in every template (product); "
        "the dev default is refused in prod",
    )
    help_url: str = Field(
        "https://help.example.com",
        description="base URL of the product's help centre; templates link to pages under it (help_url); "
        "example/test hosts are refused in prod",
    )
    support_url: str = Field(
        "https://help.example.com/support",
        description="URL of the product's technical support (support_url); example/test hosts are refused in prod",
    )
    support_phone: str = Field(
        "+1 555 0100",
        description="support phone number shown in mails (support_phone); empty = none; "
        "the dev default is refused in prod",
    )

    @field_validator("product_name")
    @classmethod
    def _product_name(cls, value: str) -> str:
        return check_product_name(value)

    @field_validator("help_url", "support_url")
    @classmethod
    def _urls(cls, value: str, info: ValidationInfo) -> str:
        return check_url(str(info.field_name), value)

    @field_validator("support_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return check_phone(value)

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        return check_mail_from(value)

    @property
    def brand(self) -> Brand:
        return Brand(
            product=self.product_name,
            help_url=self.help_url,
            support_url=self.support_url,
            support_phone=self.support_phone,
        )

    def placeholders(self) -> list[str]:
        """The branding settings still holding a dev default or an example/test host (refused in prod)."""
        fields = type(self).model_fields
        found = [
            name
            for name in ("product_name", "support_phone", "mail_from")
            if getattr(self, name) == fields[name].default and getattr(self, name)
        ]
        found += [name for name in ("help_url", "support_url", "mail_from") if is_placeholder_host(getattr(self, name))]
        return list(dict.fromkeys(found))

    default_locale: Literal["ja", "en"] = Field("en", description="locale when neither contact nor account has one")
    templates_dir: Path | None = Field(
        None, description="folder with email/ and inapp/ templates; empty = the shipped services/notify/templates"
    )

    @property
    def templates(self) -> Path:
        # Resolved here, not in the default, so the documented default does not depend on the checkout path.
        return self.templates_dir or TEMPLATES_DIR

    link_secret: SecretStr = Field(
        SecretStr("dev-link-secret"), description="HMAC key of open pixels, click, answer and unsubscribe links"
    )
    inapp_secret: SecretStr = Field(
        SecretStr("dev-inapp-secret"),
        description="key the product signs its user ids with (user token = hex HMAC-SHA256(secret, user_id))",
    )
    inapp_allowed_origins: str = Field(
        "http://127.0.0.1:8004,http://localhost:8004",
        description="web origins whose pages may call the in-app API (widget, messages, stream), comma separated: "
        "https://app.example.com, https://*.example.com (subdomains) or * (any; refused in prod); "
        "empty = only notify's own origin; default: the local demo page",
    )

    @field_validator("inapp_allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        parse_origins(value)  # a typo fails at start-up naming the entry, not as a blocked widget later
        return value

    @property
    def allowed_origins(self) -> AllowedOrigins:
        return parse_origins(self.inapp_allowed_origins)

    machine_open_seconds: float = Field(
        10.0, description="an open this soon after sending is recorded as automatic (prefetch, scanner)"
    )
    retry_base_seconds: float = Field(2.0, description="first retry delay after a transient SMTP/webhook failure")
    retry_max_seconds: float = Field(300.0, description="longest delay between retries")
    give_up_after_hours: float = Field(72.0, description="a mail/webhook still failing transiently after this fails")
    sending_lease_seconds: float = Field(
        300.0,
        description="a delivery still 'sending' after this was cut off by a crash and is sent again with the same "
        "Message-ID (keep it above smtp_timeout_seconds)",
    )
    poll_seconds: float = Field(
        0.5,
        description="how often the mail, outcome and webhook loops look for work while they are not woken by "
        "LISTEN/NOTIFY (loops_listen off or its connection down)",
    )
    loops_listen: bool = Field(
        True,
        description="the mail, outcome and webhook loops are woken by Postgres LISTEN/NOTIFY as soon as work for "
        "them is committed (by any replica; one extra connection per process); false (e.g. behind a "
        "transaction-pooling proxy) = they look every poll_seconds",
    )
    listen_poll_seconds: float = Field(
        5.0,
        gt=0,
        description="while listening, the loops still look for work this often (a retry's backoff coming due, a "
        "crashed sender's lease running out)",
    )
    backlog_seconds: float = Field(
        2.0, gt=0, description="how often the touchline_notify_backlog gauges (work not yet carried out) are measured"
    )
    recipient_wait_hours: float = Field(
        24.0,
        description="an email command no known contact can receive waits this long (service clock) for one; "
        "then it is reported failed; 0 = at once",
    )
    inapp_cap_count: int = Field(1, description="at most this many new popups/surveys shown to one user ...")
    inapp_cap_hours: float = Field(24.0, description="... per this many hours (global frequency cap)")
    inapp_stream_listen: bool = Field(
        True,
        description="in-app streams learn of new messages at once by Postgres LISTEN/NOTIFY (one extra connection "
        "per process); false (e.g. behind a transaction-pooling proxy) = one query every poll_seconds for all "
        "users connected to the process",
    )
    inapp_stream_sweep_seconds: float = Field(
        30.0,
        description="while listening, every in-app stream of the process is also re-checked this often (one query; "
        "the frequency cap window rolls on) and whenever the simulated clock moves",
    )
    inapp_stream_queue: int = Field(
        100, ge=1, description="in-app messages waiting for one slow stream client before it is disconnected"
    )
    inapp_expiry_days: float = Field(14.0, description="in-app messages expire after this unless the template says")
    task_pools: dict[str, list[str]] = Field(
        default_factory=dict,
        description='round-robin CSM pools per tier when the account has no csm_owner, JSON: {"default": ["a@x"]}',
    )
    feedback_lookback_hours: float = Field(
        168.0,
        gt=0,
        description="the feedback routing loop looks at answers given this far back (service clock) that it has not routed yet",
    )
    slack_webhook_url: str = Field("", description="Slack incoming webhook told about new CSM tasks; empty = off")
    webhook_urls: list[str] = Field(
        default_factory=list, description="endpoints receiving task events signed per Standard Webhooks (JSON list)"
    )
    webhook_orphan_seconds: float = Field(
        300.0,
        description="webhooks queued for an endpoint no running instance has configured for this long are "
        "recorded 'unconfigured' and never sent",
    )
    webhook_secret: SecretStr = Field(
        SecretStr("dev-whsec_dG91Y2hsaW5lLWRldi13ZWJob29rLXNlY3JldA=="),
        description="Standard Webhooks secret (whsec_<base64>) of the endpoints in webhook_urls",
    )

    @model_validator(mode="after")
    def _endpoints_are_distinct(self) -> NotifySettings:
        self.endpoints()  # a URL named as both a signed and a Slack endpoint stops start-up, naming both
        return self

    def endpoints(self) -> list[Endpoint]:
        """This configuration's webhook endpoints (their ids include the secret they are signed with)."""
        # A dev- prefix only marks the default secret as not-for-production; the key itself follows it.
        secret = self.webhook_secret.get_secret_value().removeprefix("dev-")
        return configured_endpoints(
            webhook_urls=self.webhook_urls, webhook_secret=secret, slack_webhook_url=self.slack_webhook_url
        )
