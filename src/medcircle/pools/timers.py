"""Timers of pooled resources: an offer's time is up (registered with the timer runner on
import).

The handler runs in the timer's own transaction and is safe to run twice and late:
``service.expire_offer`` takes the pool's lock and expires the offer only when it is still open
and past its expiry. An offer answered before (accepted, declined, withdrawn) keeps its timer,
which then changes nothing: the service never writes a timer's row while it holds a pool's lock,
so it cannot close a cycle with the runner, which holds the timer's row and then asks for the
pool's lock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from medcircle.pools import service
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer

OFFER_SUBJECT = "unit_offer"


def offer_expiry(session: Session, timer: Timer, now: datetime) -> None:
    """Expire the offer and give its unit to the next patient (the reason kept)."""
    if timer.subject_type != OFFER_SUBJECT:
        return
    service.expire_offer(session, timer.subject_id, now)


tasks.register(service.TIMER_OFFER_EXPIRY, offer_expiry)
