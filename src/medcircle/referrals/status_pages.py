"""The family's status page, reached by a random expiring link (no login).

It shows the state, the appointment, the place and what to bring, in plain words; nothing
clinical. The page is never cached, never indexed, and never passes its address on as a
referrer. Its language comes from ``?lang=`` (Simplified Chinese unless asked otherwise)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response

from medcircle.kit import i18n
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.referrals import service
from medcircle.referrals.domain import Status
from medcircle.web.deps import write_session_factory_of
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

PRIVATE_HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}

# each state as the family reads it (words of their own, not the staff's terms)
FAMILY_LABELS: dict[Status, str] = {
    Status.DRAFT: N_("Being prepared"),
    Status.SUBMITTED: N_("Sent, waiting for review"),
    Status.ACCEPTED: N_("Accepted, appointment to follow"),
    Status.DECLINED: N_("Not accepted"),
    Status.REDIRECTED: N_("Passed on"),
    Status.SCHEDULED: N_("Appointment booked"),
    Status.ARRIVED: N_("At the hospital"),
    Status.COMPLETED: N_("Visit complete"),
    Status.NO_SHOW: N_("Appointment missed"),
    Status.CANCELLED: N_("Referral cancelled"),
    Status.CLOSED: N_("Finished"),
}

# what each state means for the family, in plain words
FAMILY_TEXT: dict[Status, str] = {
    Status.DRAFT: N_("The referral is being prepared by your doctor."),
    Status.SUBMITTED: N_(
        "The referral has been sent. The receiving hospital is reviewing it; you will be "
        "told the appointment."
    ),
    Status.ACCEPTED: N_(
        "The receiving hospital has accepted the referral and will give you an appointment."
    ),
    Status.DECLINED: N_(
        "The receiving hospital cannot take this referral. Your doctor will talk with you "
        "about what comes next."
    ),
    Status.REDIRECTED: N_(
        "The referral has been passed on to a better-suited department or hospital. A new "
        "link or message will follow."
    ),
    Status.SCHEDULED: N_("You have an appointment. Please come on time and bring what is listed."),
    Status.ARRIVED: N_("You have arrived at the hospital and are being seen."),
    Status.COMPLETED: N_(
        "The visit is complete. Your local doctor receives the results and will follow up."
    ),
    Status.NO_SHOW: N_(
        "The appointment was missed. Please contact your doctor to arrange a new one."
    ),
    Status.CANCELLED: N_("The referral has been cancelled. Your doctor can tell you why."),
    Status.CLOSED: N_("The referral is finished."),
}

INVALID_TITLE = N_("This status link does not work")
INVALID_TEXT = N_(
    "The link is wrong or has been withdrawn. Check that you copied all of it, or ask the "
    "hospital for a new one."
)
EXPIRED_TITLE = N_("This status link has expired")
EXPIRED_TEXT = N_("Status links work for a limited time. Ask the hospital for a new one.")


def _choose_language(request: Request) -> str:
    chosen = i18n.normalise_locale(request.query_params.get("lang")) or i18n.DEFAULT_LOCALE
    i18n.set_locale(chosen)
    return chosen


@router.get("/status/{token}")
async def family_status_page(request: Request, token: str) -> Response:
    locale = _choose_language(request)
    try:
        # a transaction of its own, committed even when the link is refused (the refusal
        # stays in the audit trail); it writes (the last view), so it starts as a write
        found = await anyio.to_thread.run_sync(
            service.open_status_link, write_session_factory_of(request), token
        )
    except DomainError as exc:
        expired = exc.status == 410
        return render(
            request,
            "referrals/status.html",
            {
                "s": None,
                "locale": locale,
                "title": gettext(EXPIRED_TITLE if expired else INVALID_TITLE),
                "text": gettext(EXPIRED_TEXT if expired else INVALID_TEXT),
                "expired": expired,
            },
            status_code=410 if expired else 404,
            headers=PRIVATE_HEADERS,
        )
    status = Status(found.status)
    return render(
        request,
        "referrals/status.html",
        {
            "s": found,
            "status": status,
            "locale": locale,
            "status_label": gettext(FAMILY_LABELS[status]),
            "title": gettext(N_("Referral %(ref)s"), ref=found.reference),
            "text": gettext(FAMILY_TEXT[status]),
        },
        headers=PRIVATE_HEADERS,
    )
