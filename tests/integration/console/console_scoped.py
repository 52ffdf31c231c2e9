"""The real health, touch and notify services on ports of their own, accepting scoped tokens: shared
by the roles/audit tests of the console; module-scoped, so no second consumer of each group outlives them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from touchline.console.settings import ConsoleSettings
from touchline.console.testing import served
from touchline.health.main import build_app as health_app
from touchline.health.settings import HealthSettings
from touchline.notify.main import build_app as notify_app
from touchline.notify.settings import NotifySettings
from touchline.shared.settings import CommonSettings
from touchline.shared.stack.smtp_sink import MailSink
from touchline.touch.main import build_app as touch_app
from touchline.touch.settings import TouchSettings

READ, WRITE, ADMIN = "read-token-0123456789", "write-token-0123456789", "console-token-0123456789"


@dataclass(frozen=True)
class ScopedServices:
    common: CommonSettings  # with the scoped tokens: viewer (read), crm (write), console (admin)
    urls: dict[str, str]

    def console_settings(self) -> ConsoleSettings:
        return ConsoleSettings(
            health_url=self.urls["health"], touch_url=self.urls["touch"], notify_url=self.urls["notify"]
        )


@pytest.fixture(scope="module", name="scoped_services")
def scoped_services_fixture(common: CommonSettings) -> Iterator[ScopedServices]:
    tokens = SecretStr(f"viewer:read:{READ},crm:write:{WRITE},console:admin:{ADMIN}")
    scoped = common.model_copy(update={"api_tokens": tokens})
    sink = MailSink().start()
    with ExitStack() as stack:
        notify_settings = NotifySettings(smtp_port=sink.port, public_url="http://notify.test")
        urls = {
            "health": stack.enter_context(served(health_app(scoped, HealthSettings()))),
            "touch": stack.enter_context(served(touch_app(scoped, TouchSettings()))),
            "notify": stack.enter_context(served(notify_app(scoped, notify_settings))),
        }
        yield ScopedServices(common=scoped, urls=urls)
    sink.stop()
