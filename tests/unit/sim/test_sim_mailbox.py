import base64
import json
from email.message import EmailMessage

from touchline.sim.mailbox import Mailbox, address_of, parse_mail, read_token


def token(payload):
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{body}.{'m' * 43}"


def raw_mail(*, to="u0@acct-00001.example.com", template="renewal.reminder_survey"):
    message = EmailMessage()
    message["From"] = "cs@touchline.invalid"
    message["To"] = to
    message["Subject"] = "Renewal"
    message["Message-ID"] = "<1@x>"
    message["X-Touchline-Template"] = template
    message["List-Unsubscribe"] = f"<http://127.0.0.1:8004/u/{token({'k': 'u', 'd': 'd1'})}>"
    links = [
        f"http://127.0.0.1:8004/a/{token({'k': 'a', 'd': 'd1', 'a': {'survey': 'renewal', 'choice': c}})}"
        for c in ("likely", "undecided", "unlikely")
    ]
    click = f"http://127.0.0.1:8004/c/{token({'k': 'c', 'd': 'd1', 'i': 0, 'u': 'https://help'})}"
    pixel = f"http://127.0.0.1:8004/o/{token({'k': 'o', 'd': 'd1'})}"
    message.set_content("Will you renew?\n" + "\n".join(links) + "\n" + click)
    html = "".join(f'<a href="{u}">x</a>' for u in [*links, click]) + f'<img src="{pixel}">'
    message.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
    return bytes(message)


def test_links_are_classified_by_what_their_token_says():
    mail = parse_mail(raw_mail(), file="1.eml")
    assert mail.template == "renewal.reminder_survey"
    assert mail.to == ("u0@acct-00001.example.com",)
    assert len(mail.of_kind("answer")) == 3
    assert len(mail.of_kind("open")) == 1 and len(mail.of_kind("click")) == 1
    assert len(mail.of_kind("unsubscribe")) == 1


def test_each_answer_link_says_the_answer_it_records():
    mail = parse_mail(raw_mail())
    assert [link.answer for link in mail.of_kind("answer")] == [
        {"survey": "renewal", "choice": c} for c in ("likely", "undecided", "unlikely")
    ]


def test_a_url_without_a_token_is_not_a_tracking_link():
    assert read_token("https://example.com/help/getting-started") == (None, None, None)


def test_address_of_strips_the_display_name():
    assert address_of("Aoi <U0@Acct.example.com>") == "u0@acct.example.com"


def test_mailbox_reads_only_new_complete_index_lines(tmp_path):
    (tmp_path / "1.eml").write_bytes(raw_mail())
    (tmp_path / "2.eml").write_bytes(raw_mail(to="u1@acct-00001.example.com"))
    index = tmp_path / "index.jsonl"
    index.write_text(json.dumps({"file": "1.eml"}) + "\n" + json.dumps({"file": "2.eml"})[:5])
    box = Mailbox(tmp_path)
    assert [m.file for m in box.new_mails()] == ["1.eml"]
    with open(index, "a") as handle:
        handle.write(json.dumps({"file": "2.eml"})[5:] + "\n")
    assert [m.to for m in box.new_mails()] == [("u1@acct-00001.example.com",)]
    assert list(box.new_mails()) == []


def test_mailbox_can_skip_what_an_earlier_run_left(tmp_path):
    (tmp_path / "1.eml").write_bytes(raw_mail())
    (tmp_path / "index.jsonl").write_text(json.dumps({"file": "1.eml"}) + "\n")
    box = Mailbox(tmp_path)
    box.skip_existing()
    assert list(box.new_mails()) == []


def test_missing_folder_means_no_mail_yet(tmp_path):
    assert list(Mailbox(tmp_path / "none").new_mails()) == []
