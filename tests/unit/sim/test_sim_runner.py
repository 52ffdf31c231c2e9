import base64
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial

from touchline.sim.mailbox import Mailbox
from touchline.sim.personas import make_accounts
from touchline.sim.plan import Config
from touchline.sim.report import Observed, summary, week_line
from touchline.sim.runner import Runner, Tally

START = datetime(2027, 1, 4, tzinfo=UTC)
NPS = [{"survey": "nps", "score": n} for n in range(11)]


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


class FakeBarrier:
    def __init__(self):
        self.moves, self.drains = [], 0

    async def set_clock(self, when):
        self.moves.append(when)

    async def drain(self):
        self.drains += 1


def survey_mail(to, *, subject="How likely are you to recommend Acme?", answers=NPS, template=None):
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = to, subject, "<d1@x>"
    message["X-Touchline-Delivery"] = "d1"
    if template:
        message["X-Touchline-Template"] = template
    links = [f"http://n/t/a/{token({'k': 'a', 'd': 'd1', 'a': a})}" for a in answers]
    links.append(f"http://n/t/c/{token({'k': 'c', 'd': 'd1', 'i': 0, 'u': 'https://help'})}")
    pixel = f"http://n/t/o/{token({'k': 'o', 'd': 'd1'})}.gif"
    message.set_content("\n".join(links))
    message.add_alternative(f'<p>{"".join(f"<a href={u}>x</a>" for u in links)}<img src="{pixel}"></p>', subtype="html")
    return bytes(message)


def runner_for(tmp_path, persona, inapp=None, mail=None):
    account = make_accounts(seed=1, count=1, start=START, personas=(persona,))[0]
    (tmp_path / "1.eml").write_bytes(mail(account.users[0].email) if mail else survey_mail(account.users[0].email))
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


async def test_a_day_moves_the_clock_to_nine_and_to_three_and_drains_after_each_move_and_each_action(tmp_path):
    runner, _, barrier, _ = runner_for(tmp_path, "thriving")
    await runner.run_day(0)
    await runner.run_day(1)
    assert barrier.moves == [START + timedelta(days=d, hours=h) for d in (0, 1) for h in (9, 15)]
    assert barrier.drains == 8


async def test_reactions_wait_for_the_work_the_clock_move_caused(tmp_path):
    runner, client, barrier, _ = runner_for(tmp_path, "detractor")
    order = []
    barrier.set_clock = lambda when: _noted(order, "clock")
    barrier.drain = lambda: _noted(order, "drain")
    reading = client.hit
    client.hit = lambda url: _noted(order, "react", reading(url))
    await runner.run_day(0)
    assert order[:6] == ["clock", "drain", "drain", "clock", "drain", "react"] and order[-1] == "drain"


async def test_mail_the_afternoon_move_caused_is_read_the_next_afternoon_not_at_once(tmp_path):
    runner, client, barrier, _ = runner_for(tmp_path, "detractor")
    (tmp_path / "index.jsonl").write_text("")  # nothing arrived yet
    moving = barrier.set_clock

    async def move(when):
        await moving(when)
        if when == START + timedelta(hours=15):  # a timer due in the afternoon sends the survey
            with open(tmp_path / "index.jsonl", "a") as index:
                index.write(json.dumps({"file": "1.eml"}) + "\n")

    barrier.set_clock = move
    await runner.run_day(0)
    assert client.hits == []
    await runner.run_day(1)
    assert any("/t/o/" in url for url in client.hits)
    assert [m.day for m in runner.mails] == [1]


async def _noted(order, what, result=None):
    order.append(what)
    return await result if result is not None else None


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
    assert [(g.channel, g.answer) for g in runner.given] == [("email", {"survey": "nps", "score": 2})]
    assert runner.mails[0].template == "advocacy.nps_survey" and runner.mails[0].account_id == account.account_id


async def test_a_declining_account_leaves_its_mail_unopened(tmp_path):
    runner, client, _, _ = runner_for(tmp_path, "slow_decline")
    await runner.run_day(0)
    assert client.hits == []
    assert runner.total.mails == 1 and runner.total.opens == 0


def answer_of(url):
    return json.loads(base64.urlsafe_b64decode(url.split("/t/a/")[1].split(".")[0] + "=="))["a"]


async def test_a_detractor_offered_only_high_scores_does_not_answer(tmp_path):
    high = partial(survey_mail, answers=NPS[8:])
    runner, client, _, _ = runner_for(tmp_path, "detractor", mail=high)
    await runner.run_day(0)
    assert [url for url in client.hits if "/t/a/" in url] == []
    assert runner.total.answers == {} and runner.total.unanswerable == {}


async def test_a_feature_survey_mail_without_choices_gets_no_answer_and_is_counted_unanswerable(tmp_path):
    empty = partial(survey_mail, subject="Which Acme features help you most?", answers=[])
    runner, client, _, _ = runner_for(tmp_path, "promoter", mail=empty)
    await runner.run_day(0)
    assert any("/t/o/" in url for url in client.hits)  # read it
    assert [url for url in client.hits if "/t/a/" in url] == []
    assert runner.total.answers == {}
    assert runner.total.unanswerable == {"risk.feature_survey (email)": 1}
    assert [(g.channel, g.label) for g in runner.unanswerable] == [("email", "risk.feature_survey")]
    assert "risk.feature_survey (email)" in summary(
        accounts=1, days=1, wall_s=1.0, total=runner.total, observed=Observed(), where={}
    )


async def test_a_feature_survey_mail_with_choices_gets_one_of_them(tmp_path):
    offered = [{"survey": "feature_usefulness", "features": [f]} for f in ("reports", "alerts")]
    features = partial(survey_mail, answers=offered, template="risk.feature_survey")
    runner, client, _, _ = runner_for(tmp_path, "promoter", mail=features)
    await runner.run_day(0)
    answered = [answer_of(url) for url in client.hits if "/t/a/" in url]
    assert len(answered) == 1 and answered[0] in offered
    assert runner.mails[0].template == "risk.feature_survey" and runner.mails[0].offered == tuple(offered)


def add_mail(folder, name, raw):
    (folder / name).write_bytes(raw)
    with open(folder / "index.jsonl", "a") as index:
        index.write(json.dumps({"file": name}) + "\n")


async def test_a_hesitant_customer_answers_the_reminder_only_among_its_links(tmp_path):
    runner, client, _, account = runner_for(tmp_path, "hesitant")
    await runner.run_day(0)  # the NPS mail: read, not answered
    assert any("/t/o/" in url for url in client.hits) and runner.given == []
    to = account.users[0].email
    add_mail(tmp_path, "2.eml", survey_mail(to, subject="We would still love your answer", answers=[]))
    await runner.run_day(1)  # a reminder without links: nothing to click
    assert runner.given == [] and runner.total.unanswerable == {"advocacy.reminder (email)": 1}
    add_mail(tmp_path, "3.eml", survey_mail(to, subject="We would still love your answer", answers=NPS[5:9]))
    await runner.run_day(2)
    assert [(g.channel, g.answer) for g in runner.given] == [("email", {"survey": "nps", "score": 7})]
    assert [answer_of(url) for url in client.hits if "/t/a/" in url] == [{"survey": "nps", "score": 7}]


def inapp_runner(tmp_path, persona, message):
    account = make_accounts(seed=1, count=1, start=START, personas=(persona,))[0]
    inapp = {u.user_id: [dict(message, id=f"{message['id']}-{u.user_id}")] for u in account.users}
    quiet = partial(survey_mail, subject="Three tips", answers=[])
    return (*runner_for(tmp_path, persona, inapp=inapp, mail=quiet), account)


async def test_users_active_today_answer_an_in_app_survey_with_one_of_its_choices(tmp_path):
    choices = [{"value": n, "label": str(n)} for n in range(11)]
    message = {"id": "m9", "kind": "survey", "survey": "nps", "template": "advocacy.nps_survey", "choices": choices}
    runner, client, _, _, account = inapp_runner(tmp_path, "promoter", message)
    await runner.run_day(0)
    answered = [e for e in client.inapp_events if e[2] == "answered"]
    assert answered
    for _, _, _, answer in answered:
        assert {"survey": answer["survey"], "score": answer["score"]} in NPS and answer["score"] == 10
        assert set(answer) == {"survey", "score", "comment"}  # the widget's comment box
    assert {e[0] for e in client.inapp_events} <= {u.user_id for u in account.users}
    assert [g.answer for g in runner.given] == [e[3] for e in answered] and {g.channel for g in runner.given} == {
        "in_app"
    }


async def test_an_in_app_survey_without_choices_is_dismissed_unanswered_and_counted_once(tmp_path):
    message = {"id": "m7", "kind": "survey", "survey": "feature_usefulness", "template": "risk.feature_survey"}
    runner, client, _, _, _ = inapp_runner(tmp_path, "promoter", {**message, "choices": []})
    await runner.run_day(0)
    events = {e[2] for e in client.inapp_events}
    assert "answered" not in events and "dismissed" in events
    seen = sum(1 for e in client.inapp_events if e[2] == "seen")
    assert seen and runner.total.unanswerable == {"risk.feature_survey (in-app)": seen}
    await runner.run_day(1)  # shown again (the fake never closes it): still one gap per message
    assert sum(runner.total.unanswerable.values()) == len({e[1] for e in client.inapp_events})


async def test_an_in_app_popup_with_a_call_to_action_may_be_clicked_but_never_answered(tmp_path):
    message = {
        "id": "m5", "kind": "popup", "survey": None, "template": "onboarding.tips", "choices": [],
        "cta": {"label": "Read", "url": "https://help"},
    }  # fmt: skip
    runner, client, _, _, _ = inapp_runner(tmp_path, "thriving", message)
    for day in range(3):
        await runner.run_day(day)
    events = [e for e in client.inapp_events if e[2] != "seen"]
    assert events and all(e[2] in ("clicked", "dismissed") and e[3] is None for e in events)
    assert runner.total.unanswerable == {}


def test_week_line_shows_what_happened_and_na_for_missing_apis():
    tally = Tally(events=1234, mails=5, opens=2)
    tally.unanswerable.update({"risk.feature_survey (in-app)": 3})
    line = week_line(week=2, day=14, date="2027-01-17", tally=tally, observed=Observed())
    assert "events   1,234" in line and "bands n/a" in line and "tasks n/a" in line
    assert "unanswerable  3" in line


def test_summary_lists_bands_templates_tasks_surveys_and_where_to_look():
    tally = Tally(events=10, mails=3)
    tally.mails_by_template.update({"risk.decline_notice": 2, "onboarding.welcome": 1})
    tally.answers.update({"nps": 4})
    observed = Observed(band_by_tier={"tech": {"good": 3}}, tasks_by_reason={"NPS detractor": 1})  # type: ignore[arg-type]
    text = summary(accounts=3, days=7, wall_s=1.0, total=tally, observed=observed, where={"inbox": "/tmp/mail"})
    for expected in ("risk.decline_notice", "NPS detractor", "nps", "/tmp/mail", "tech"):
        assert expected in text
