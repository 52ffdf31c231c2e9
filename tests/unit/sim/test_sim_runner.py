import base64
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from touchline.sim.mailbox import Mailbox
from touchline.sim.personas import make_accounts
from touchline.sim.plan import Config
from touchline.sim.report import Observed, summary, week_line
from touchline.sim.runner import Runner, Tally

START = datetime(2027, 1, 4, tzinfo=UTC)


def token(payload):
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{body}.{'m' * 43}"


class FakeClient:
    def __init__(self, inapp):
        self.batches, self.hits, self.inapp_events = [], [], []
        self.inapp = inapp

    async def send_batch(self, calls):
        self.batches.append(list(calls))

    async def hit(self, url):
        self.hits.append(url)
        return 200

    async def inapp_messages(self, user_id):
        return self.inapp.get(user_id, [])

    async def inapp_event(self, user_id, message_id, event, answer=None):
        self.inapp_events.append((user_id, message_id, event, answer))

    async def timeline(self, account_id):
        return [{"channel": "email", "id": "d1", "template": "advocacy.nps_survey"}]


class FakeBarrier:
    def __init__(self):
        self.moves, self.drains = [], 0

    async def set_clock(self, when):
        self.moves.append(when)

    async def drain(self):
        self.drains += 1


def nps_mail(to):
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = to, "NPS", "<d1@x>"
    message["X-Touchline-Delivery"] = "d1"
    answers = [f"http://n/t/a/{token({'k': 'a', 'd': 'd1', 'a': {'survey': 'nps', 'score': n}})}" for n in range(11)]
    pixel = f"http://n/t/o/{token({'k': 'o', 'd': 'd1'})}.gif"
    message.set_content("\n".join(answers))
    message.add_alternative(
        f'<p>{"".join(f"<a href={u}>x</a>" for u in answers)}<img src="{pixel}"></p>', subtype="html"
    )
    return bytes(message)


def runner_for(tmp_path, persona, inapp=None):
    account = make_accounts(seed=1, count=1, start=START, personas=(persona,))[0]
    (tmp_path / "1.eml").write_bytes(nps_mail(account.users[0].email))
    (tmp_path / "index.jsonl").write_text(json.dumps({"file": "1.eml"}) + "\n")
    client, barrier = FakeClient(inapp or {}), FakeBarrier()
    runner = Runner(
        config=Config(seed=1, accounts=1, days=1, start=START, history_days=5),
        accounts=[account],
        client=client,  # type: ignore[arg-type]
        barrier=barrier,  # type: ignore[arg-type]
        mailbox=Mailbox(tmp_path),
    )
    return runner, client, barrier, account


async def test_a_day_moves_the_clock_to_nine_and_drains_once(tmp_path):
    runner, _, barrier, _ = runner_for(tmp_path, "thriving")
    await runner.run_day(0)
    await runner.run_day(1)
    assert barrier.moves == [START + timedelta(hours=9), START + timedelta(days=1, hours=9)]
    assert barrier.drains == 2


async def test_introductions_are_sent_before_any_usage(tmp_path):
    runner, client, _, account = runner_for(tmp_path, "thriving")
    await runner.run_day(0)
    first = client.batches[0]
    assert {c["type"] for c in first} == {"identify", "group"}
    assert len(first) == 2 * len(account.users)
    assert runner.total.events == sum(len(b) for b in client.batches)


async def test_a_detractor_opens_the_nps_mail_and_clicks_a_low_score(tmp_path):
    runner, client, _, account = runner_for(tmp_path, "detractor")
    await runner.run_day(0)
    assert any("/t/o/" in url for url in client.hits)
    answered = [url for url in client.hits if "/t/a/" in url]
    assert len(answered) == 1
    payload = json.loads(base64.urlsafe_b64decode(answered[0].split("/t/a/")[1].split(".")[0] + "=="))
    assert payload["a"] == {"survey": "nps", "score": 2}
    assert runner.total.answers["nps"] == 1
    assert runner.mails[0].template == "advocacy.nps_survey" and runner.mails[0].account_id == account.account_id


async def test_a_declining_account_leaves_its_mail_unopened(tmp_path):
    runner, client, _, _ = runner_for(tmp_path, "slow_decline")
    await runner.run_day(0)
    assert client.hits == []
    assert runner.total.mails == 1 and runner.total.opens == 0


async def test_users_active_today_answer_in_app_surveys_the_persona_has_an_answer_for(tmp_path):
    account = make_accounts(seed=1, count=1, start=START, personas=("promoter",))[0]
    survey = {"id": "m9", "survey": "nps", "template": "advocacy.nps_survey"}
    runner, client, _, _ = runner_for(tmp_path, "promoter", inapp={u.user_id: [survey] for u in account.users})
    await runner.run_day(0)
    answered = [e for e in client.inapp_events if e[2] == "answered"]
    assert answered and all(e[3]["score"] == 10 for e in answered)
    assert {e[0] for e in client.inapp_events} <= {u.user_id for u in account.users}


def test_week_line_shows_what_happened_and_na_for_missing_apis():
    tally = Tally(events=1234, mails=5, opens=2)
    line = week_line(week=2, day=14, date="2027-01-17", tally=tally, observed=Observed())
    assert "events   1,234" in line and "bands n/a" in line and "tasks n/a" in line


def test_summary_lists_bands_templates_tasks_surveys_and_where_to_look():
    tally = Tally(events=10, mails=3)
    tally.mails_by_template.update({"risk.decline_notice": 2, "onboarding.welcome": 1})
    tally.answers.update({"nps": 4})
    observed = Observed(band_by_tier={"tech": {"good": 3}}, tasks_by_reason={"NPS detractor": 1})  # type: ignore[arg-type]
    text = summary(accounts=3, days=7, wall_s=1.0, total=tally, observed=observed, where={"inbox": "/tmp/mail"})
    for expected in ("risk.decline_notice", "NPS detractor", "nps", "/tmp/mail", "tech"):
        assert expected in text
