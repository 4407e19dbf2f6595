"""Email through a real SMTP server (aiosmtpd on loopback): what arrives, in whose language,
retries with back-off while the server is down, giving up, AUTH and STARTTLS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.notifications import mailer
from medcircle.notifications.models import OutgoingEmail
from medcircle.notifications.service import notify, queue_email
from tests.factories import World
from tests.integration.notifications.smtp import (
    SmtpServer,
    free_port,
    make_certificate,
    smtp_server,
)

MESSAGE = "This agreement was already terminated on %(day)s."
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def morning() -> Iterator[None]:
    with time_machine.travel(T0, tick=True):
        yield


def with_smtp(settings: Settings, server_port: int, **kw: object) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": server_port, "smtp_timeout_seconds": 5, **kw}
    )


def outbox(session: Session) -> list[OutgoingEmail]:
    session.expire_all()
    return list(session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.id)))


def queue_one(session: Session, to: str = "someone@example.org") -> OutgoingEmail:
    mail = queue_email(session, to, "[medcircle] 转诊已接受", "请查看转诊。\nPlease look.")
    session.commit()
    return mail


def test_notified_users_get_email_in_their_own_language(
    session: Session,
    session_factory: sessionmaker[Session],
    world: World,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    zh = world.users[Role.CLINICIAN]
    zh.email, zh.locale = "clinician@bd-a.example.cn", "zh_Hans"
    en = world.users[Role.EXPERT]
    en.email, en.locale = "expert@bj-a.example.cn", "en"
    no_address = world.users[Role.COORDINATOR]
    session.commit()
    notes = notify(
        session,
        [zh.id, en.id, no_address.id, zh.id],
        "test.event",
        MESSAGE,
        {"day": "2026-11-20"},
        link="/agreements/7",
        base_url="https://medcircle.example.cn/",
    )
    session.commit()
    assert len(notes) == 3  # one inbox message each, the repeated id once
    assert len(outbox(session)) == 2  # email only to those with an address

    assert mailer.send_due(session_factory, with_smtp(settings, smtp.port), clock.now()) == 2

    by_rcpt = {r.rcpt_tos[0]: r for r in smtp.received}
    assert set(by_rcpt) == {zh.email, en.email}
    chinese = by_rcpt[zh.email].message
    assert chinese["Subject"] == "[medcircle] 此协议已于 2026-11-20 终止。"
    body = chinese.get_content()
    assert "此协议已于 2026-11-20 终止。" in body
    assert "https://medcircle.example.cn/agreements/7" in body
    assert "在 medcircle 中打开" in body
    assert chinese["To"] == zh.email
    assert chinese["From"] == settings.mail_from
    assert chinese["Message-ID"].endswith("@medcircle.invalid>")
    assert abs(parsedate_to_datetime(chinese["Date"]) - clock.now()) < timedelta(minutes=1)
    assert chinese.get_content_charset() == "utf-8"
    # the subject went over the wire encoded (RFC 2047), not as raw UTF-8
    assert "此协议".encode() not in by_rcpt[zh.email].raw.split(b"\r\n\r\n")[0]
    english = by_rcpt[en.email].message
    assert english["Subject"] == "[medcircle] This agreement was already terminated on 2026-11-20."
    assert "Open it in medcircle:" in english.get_content()

    rows = outbox(session)
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    # nothing goes out twice
    assert mailer.send_due(session_factory, with_smtp(settings, smtp.port), clock.now()) == 0
    assert len(smtp.received) == 2


def test_without_smtp_host_email_stays_queued(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    queue_one(session)
    assert settings.smtp_host is None
    assert mailer.send_due(session_factory, settings, clock.now()) == 0
    (mail,) = outbox(session)
    assert mail.sent_at is None and mail.attempts == 0 and mail.last_error is None


def test_server_down_schedules_a_retry_then_delivers(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    port = free_port()  # nobody listens here yet
    mail = queue_one(session)
    live = with_smtp(settings, port)
    assert mailer.send_due(session_factory, live, T0) == 0
    (row,) = outbox(session)
    assert row.sent_at is None and row.failed_at is None
    assert row.attempts == 1
    assert row.last_error and "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at == T0 + mailer.retry_delay(1)

    with smtp_server(port) as server:
        # not yet due: the back-off holds
        assert mailer.send_due(session_factory, live, T0 + timedelta(minutes=1)) == 0
        assert not server.received
        assert mailer.send_due(session_factory, live, row.next_attempt_at) == 1
        assert [r.rcpt_tos for r in server.received] == [[mail.to_address]]
        assert server.received[0].message["Subject"] == "[medcircle] 转诊已接受"
    (row,) = outbox(session)
    assert row.sent_at == row.next_attempt_at and row.attempts == 2 and row.last_error is None


def test_gives_up_after_six_attempts(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    queue_one(session)
    live = with_smtp(settings, free_port())
    now = T0
    delays = []
    for attempt in range(1, mailer.MAX_ATTEMPTS + 1):
        assert mailer.send_due(session_factory, live, now) == 0
        (row,) = outbox(session)
        assert row.attempts == attempt
        if attempt < mailer.MAX_ATTEMPTS:
            assert row.failed_at is None
            delays.append(row.next_attempt_at - now)
            now = row.next_attempt_at
    assert delays == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32)]
    assert row.failed_at == now
    with smtp_server(live.smtp_port) as server:
        assert mailer.send_due(session_factory, live, now + timedelta(days=30)) == 0
        assert not server.received


def test_one_connection_sends_a_batch_in_order(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    for n in range(5):
        queue_email(session, f"r{n}@example.org", f"subject {n}", f"body {n}")
    session.commit()
    assert mailer.send_due(session_factory, with_smtp(settings, smtp.port), clock.now()) == 5
    assert [r.rcpt_tos[0] for r in smtp.received] == [f"r{n}@example.org" for n in range(5)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_logs_in_when_a_username_is_set(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    queue_one(session, "a@example.org")
    with smtp_server(login=("medcircle", "s3cret-pass")) as server:
        wrong = with_smtp(settings, server.port, smtp_username="medcircle", smtp_password="nope")
        assert mailer.send_due(session_factory, wrong, T0) == 0
        (row,) = outbox(session)
        assert row.last_error and "SMTPAuthenticationError" in row.last_error
        assert not server.received

        right = with_smtp(
            settings, server.port, smtp_username="medcircle", smtp_password="s3cret-pass"
        )
        assert mailer.send_due(session_factory, right, row.next_attempt_at) == 1
        assert server.collector.logins == ["medcircle"]
        assert [r.rcpt_tos for r in server.received] == [["a@example.org"]]


def test_starttls_verifies_the_server_certificate(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate = make_certificate(tmp_path)
    queue_one(session, "tls@example.org")
    with smtp_server(login=("medcircle", "s3cret-pass"), certificate=certificate) as server:
        live = with_smtp(
            settings,
            server.port,
            smtp_starttls=True,
            smtp_username="medcircle",
            smtp_password="s3cret-pass",
        )
        # a certificate nobody vouches for: nothing is sent, not even the password
        assert mailer.send_due(session_factory, live, T0) == 0
        (row,) = outbox(session)
        assert row.last_error and "CERTIFICATE_VERIFY_FAILED" in row.last_error
        assert not server.received and not server.collector.logins

        # the deployment trusts the certificate (as it would its own CA)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        assert mailer.send_due(session_factory, live, row.next_attempt_at) == 1
        assert server.collector.logins == ["medcircle"]
        assert [r.rcpt_tos for r in server.received] == [["tls@example.org"]]


def test_implicit_tls_on_connect(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    queue_one(session, "ssl@example.org")
    with smtp_server(certificate=certificate, implicit_tls=True) as server:
        live = with_smtp(settings, server.port, smtp_ssl=True)
        assert mailer.send_due(session_factory, live, clock.now()) == 1
        assert [r.rcpt_tos for r in server.received] == [["ssl@example.org"]]


def test_message_headers_and_sender_domain(settings: Settings) -> None:
    mail = OutgoingEmail(
        id=42,
        to_address="parent@example.org",
        subject="[medcircle] 预约：2026-12-01 09:00",
        body="北京儿童医院\n请带上病历。",
    )
    custom = settings.model_copy(update={"mail_from": "医联体 <noreply@circle.example.cn>"})
    msg = mailer.build_message(mail, custom, T0)
    assert msg["Subject"] == "[medcircle] 预约：2026-12-01 09:00"
    assert msg["From"].addresses[0].addr_spec == "noreply@circle.example.cn"
    assert msg["From"].addresses[0].display_name == "医联体"
    assert msg["Message-ID"].endswith("@circle.example.cn>")
    assert parsedate_to_datetime(msg["Date"]) == T0
    assert msg.get_content() == "北京儿童医院\n请带上病历。\n"
    assert mailer.sender_domain("no address") == "medcircle.invalid"
