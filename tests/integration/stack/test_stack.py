"""The local stack's pieces answer for real: Kafka, embedded Postgres, the SMTP sink."""

from __future__ import annotations

import json
import sys
import uuid
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from touchline.shared.stack import services
from touchline.shared.stack.kafka import metadata_round_trip
from touchline.shared.stack.layout import Layout
from touchline.shared.stack.smtp_sink import MailSink
from touchline.shared.stack.testing import Infra, asyncpg_dsn, ensure_infra, fresh_database

pytestmark = pytest.mark.integration


def _mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "csm@touchline.test"
    message["To"] = "customer@example.test"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@touchline.test>"
    message.set_content("Hello from the playbook.")
    return message


async def test_kafka_answers_a_metadata_round_trip(infra: Infra) -> None:
    topics = await metadata_round_trip(infra.bootstrap_servers)

    assert isinstance(topics, list)


async def test_a_record_produced_to_kafka_is_consumed_back(infra: Infra) -> None:
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"ping", key=b"account-1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=infra.bootstrap_servers, group_id=topic, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"account-1", b"ping")
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_postgres_answers_select_1_with_the_printed_url(infra: Infra) -> None:
    engine = create_async_engine(infra.database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(infra.database_url))
    try:
        assert await connection.fetchval("select 1") == 1
    finally:
        await connection.close()


async def test_a_fresh_database_is_a_new_empty_database_on_the_same_server(infra: Infra) -> None:
    first, second = await fresh_database(infra.database_url), await fresh_database(infra.database_url)

    assert first != second
    connection = await asyncpg.connect(asyncpg_dsn(first))
    try:
        assert (await connection.fetchval("select current_database()")).startswith("tl_test_")
        assert await connection.fetchval("select count(*) from pg_tables where schemaname = 'public'") == 0
    finally:
        await connection.close()


def test_env_vars_point_tests_at_an_existing_stack_without_starting_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOUCHLINE_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("TOUCHLINE_DATABASE_URL", "postgresql+asyncpg://u@db.example/x")

    infra = ensure_infra(tmp_path)

    assert infra == Infra("kafka.example:9092", "postgresql+asyncpg://u@db.example/x")
    assert not (tmp_path / "pg").exists() and not list((tmp_path / "pids").iterdir())


async def test_the_mail_sink_stores_a_mail_sent_with_aiosmtplib(tmp_path: Path) -> None:
    with MailSink(tmp_path) as sink:
        await aiosmtplib.send(_mail("Welcome aboard"), hostname=sink.host, port=sink.port)

        [received] = sink.messages()
    assert received["Subject"] == "Welcome aboard"
    [entry] = [json.loads(line) for line in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert entry["to"] == ["customer@example.test"] and entry["subject"] == "Welcome aboard"
    assert b"Hello from the playbook." in (tmp_path / entry["file"]).read_bytes()


async def test_a_mail_sink_answering_451_makes_aiosmtplib_raise(tmp_path: Path) -> None:
    with MailSink(tmp_path) as sink:
        sink.fail_with(451, "4.3.0 Try again later")
        with pytest.raises(aiosmtplib.SMTPResponseException) as raised:
            await aiosmtplib.send(_mail("Renewal"), hostname=sink.host, port=sink.port)
        sink.fail_with(None)
        await aiosmtplib.send(_mail("Renewal, again"), hostname=sink.host, port=sink.port)

        assert raised.value.code == 451
        assert [m["Subject"] for m in sink.messages()] == ["Renewal, again"]


def test_a_background_service_is_stopped_by_its_pid_and_only_once(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    pid, started = services.start(layout, "sleeper", argv)
    again, started_again = services.start(layout, "sleeper", argv)

    assert (started, started_again, again) == (True, False, pid)
    assert services.status(layout) == {"sleeper": pid}
    assert services.stop(layout, "sleeper") is True
    assert services.stop(layout, "sleeper") is False
    assert not services.alive(pid) and services.status(layout) == {}
