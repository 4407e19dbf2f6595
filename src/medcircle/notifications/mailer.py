"""Sending the queued email through the deployment's SMTP server.

Any process may send: each email is claimed with a conditional UPDATE of ``claimed_until``
(only the runner whose UPDATE changed the row sends it), then sent, then marked sent. A failed
attempt is retried with back-off (2, 4, 8 … minutes) and given up after ``MAX_ATTEMPTS``.
Without an SMTP host nothing is sent and the email stays queued (the in-app inbox still
tells the user).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from medcircle.config import Settings
from medcircle.db import unit_of_work
from medcircle.notifications.models import OutgoingEmail

log = logging.getLogger("medcircle.mail")

MAX_ATTEMPTS = 6
BATCH = 100


def retry_delay(attempts: int) -> timedelta:
    """How long a failed email waits before the next try, after ``attempts`` tries."""
    return timedelta(minutes=2 ** max(1, min(attempts, 10)))


def claim_period(settings: Settings) -> timedelta:
    """How long a claim holds: long enough to connect, log in and send one message."""
    return max(timedelta(minutes=5), timedelta(seconds=6 * settings.smtp_timeout_seconds))


def sender_domain(mail_from: str) -> str:
    """The domain of the sender's address (for Message-IDs)."""
    addresses = getaddresses([mail_from])
    address = addresses[0][1] if addresses else ""
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or "medcircle.invalid"


def build_message(mail: OutgoingEmail, settings: Settings, now: datetime) -> EmailMessage:
    """The email as it goes out: UTF-8 subject and body, From, To, Date and Message-ID."""
    msg = EmailMessage()
    msg["Subject"] = mail.subject
    msg["From"] = settings.mail_from
    msg["To"] = Address(addr_spec=mail.to_address)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(
        idstring=f"mail{mail.id}", domain=sender_domain(settings.mail_from)
    )
    msg.set_content(mail.body, charset="utf-8")
    return msg


@dataclass
class SmtpConnection:
    """One connection to the SMTP server, opened on first use, for a batch of messages."""

    settings: Settings
    smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        s = self.settings
        host = s.smtp_host or ""
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            smtp.ehlo()
            if s.smtp_starttls and not s.smtp_ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except BaseException:
            _close(smtp)
            raise
        self.smtp = smtp
        return smtp

    def send(self, message: EmailMessage) -> None:
        self.open().send_message(message)

    def close(self) -> None:
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                _close(smtp)


def _close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):  # closing a dead socket
        smtp.close()


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutgoingEmail.sent_at.is_(None),
        OutgoingEmail.failed_at.is_(None),
        OutgoingEmail.next_attempt_at <= now,
        or_(OutgoingEmail.claimed_until.is_(None), OutgoingEmail.claimed_until < now),
    ]


def due_ids(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Emails to send at ``now`` that no runner holds, oldest first."""
    return list(
        session.scalars(
            select(OutgoingEmail.id)
            .where(*_due(now))
            .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
            .limit(limit)
        )
    )


def claim(factory: sessionmaker[Session], mail_id: int, now: datetime, hold: timedelta) -> bool:
    """Take one due email for this runner (committed at once); False if another has it."""
    with unit_of_work(factory) as session:
        result = session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id == mail_id, *_due(now))
            .values(claimed_until=now + hold)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _load(factory: sessionmaker[Session], mail_id: int) -> OutgoingEmail | None:
    with unit_of_work(factory) as session:
        mail = session.get(OutgoingEmail, mail_id)
        if mail is not None:
            session.expunge(mail)
        return mail


def _mark_sent(factory: sessionmaker[Session], mail_id: int, now: datetime) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(OutgoingEmail)
            .where(OutgoingEmail.id == mail_id, OutgoingEmail.sent_at.is_(None))
            .values(
                sent_at=now,
                claimed_until=None,
                attempts=OutgoingEmail.attempts + 1,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )


def _mark_failed(
    factory: sessionmaker[Session], mail_id: int, now: datetime, error: BaseException
) -> None:
    with unit_of_work(factory) as session:
        mail = session.get(OutgoingEmail, mail_id)
        if mail is None or mail.sent_at is not None:
            return
        mail.attempts += 1
        mail.last_error = f"{type(error).__name__}: {error}"[:500]
        mail.claimed_until = None
        if mail.attempts >= MAX_ATTEMPTS:
            mail.failed_at = now
            log.error("email %s given up after %s attempts: %s", mail_id, mail.attempts, error)
        else:
            mail.next_attempt_at = now + retry_delay(mail.attempts)
            log.warning("email %s not sent (attempt %s): %s", mail_id, mail.attempts, error)


# errors of one message (the server refused it); others mean the server or the network failed
_MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
    MessageError,
    UnicodeError,
    ValueError,
)


def send_due(factory: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Send the emails due at ``now`` over one SMTP connection; how many were sent.

    ``factory`` should make write sessions (``make_session_factory(engine, writes=True)``).
    Without ``settings.smtp_host`` nothing is sent. When the server cannot be reached, the
    email being sent is scheduled for a later try and the others wait for the next round."""
    if not settings.smtp_host:
        return 0
    with unit_of_work(factory) as session:
        due = due_ids(session, now)
    if not due:
        return 0
    hold = claim_period(settings)
    connection = SmtpConnection(settings)
    sent = 0
    try:
        for mail_id in due:
            if not claim(factory, mail_id, now, hold):
                continue  # another runner took it
            mail = _load(factory, mail_id)
            if mail is None:  # pragma: no cover - claimed rows are not deleted
                continue
            try:
                connection.send(build_message(mail, settings, now))
            except _MESSAGE_ERRORS as exc:
                _mark_failed(factory, mail_id, now, exc)
                continue
            except (smtplib.SMTPException, OSError) as exc:
                # the server or the network: try this one later, and the rest next round
                _mark_failed(factory, mail_id, now, exc)
                break
            _mark_sent(factory, mail_id, now)
            sent += 1
    finally:
        connection.close()
    return sent
