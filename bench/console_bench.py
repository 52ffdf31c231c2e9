"""Console page latency with 10,000 accounts, beside the framework floor. Not a test.

In one run, in-process over ASGI (no network), signed in as a CSM:
- baseline: GET /healthz of the same app (routing, middleware, no template, no backend);
- pages: the account list (50 rows, sparklines, filters, page 100 of 200), an account page (explanation,
  90-day SVG chart, enrolments, timeline), the task inbox and the feedback page (janome keywords).
The backend is the in-memory fake holding 10,000 accounts (it filters and sorts all of them per
request, as a database index would not need to), so the figure is the console's own cost plus that
scan; against the real services add their API latency per call. 'first' is the cold request
(templates compiled, janome's dictionary loaded, every comment analysed once).

    .venv/bin/python -m bench.console_bench [--accounts 10000] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from touchline.console.auth import User, UserStore, hash_password
from touchline.console.demo import demo_backend
from touchline.console.main import build_app
from touchline.console.settings import ConsoleSettings
from touchline.shared.settings import CommonSettings

EMAIL, PASSWORD = "bench@example.com", "bench-password"


async def main(accounts: int, runs: int) -> None:
    users = UserStore({})
    users.put(User(email=EMAIL, name="Bench", password_hash=hash_password(PASSWORD)))
    backend = demo_backend(now=datetime(2026, 11, 24, tzinfo=UTC), accounts=accounts, owners=(EMAIL,))
    # Distinct comments, as in real life: the demo's repeat, which the tokenizer cache would hide.
    backend.answers = [replace(a, comment=f"{a.comment} (#{i})") for i, a in enumerate(backend.answers)]
    app = build_app(CommonSettings(env="test"), ConsoleSettings(), backend=backend, users=users)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://b") as client:
        token = re.search(r'name="login_token" value="([^"]+)"', (await client.get("/login")).text)
        assert token
        await client.post("/login", data={"email": EMAIL, "password": PASSWORD, "login_token": token.group(1)})
        pages = {
            "baseline /healthz": "/healthz",
            "account list (page 100)": "/accounts?scope=all&sort=-score&page=100",
            "account list, band filter": "/accounts?scope=all&band=action_required",
            "account page": "/accounts/acc-00042",
            "task inbox (team)": "/tasks?view=team",
            "feedback (12 months)": "/feedback?months=12",
        }
        print(f"{accounts} accounts, {runs} runs each, in-process ASGI")
        print(f"{'page':<28} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in pages.items():
            start = time.perf_counter()
            assert (await client.get(path)).status_code == 200, path  # cold: templates, janome, comment cache
            first = (time.perf_counter() - start) * 1000
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                await client.get(path)
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"{name:<28} {first:>9.1f} {statistics.median(timings):>8.1f} {p95:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.runs))
