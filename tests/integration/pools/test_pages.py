"""Pool pages through the real app: the pools list and the pool page for each role (names
masked outside the patient's hospital, the lead's tools for the lead only); freeing a room by
the form offers it, the decision page says why, the team accepts on the entry page; listing
with errors by the field; the lead's policy and override forms; the overrides report and its
CSV; the family's page without names, in both languages; outsiders get 404."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.kit import i18n
from medcircle.pools import service
from medcircle.pools.models import AllocationDecision, Offer, WaitlistEntry
from tests import factories
from tests import referral_factories as rf
from tests.factories import World, login
from tests.pool_factories import PoolWorld, entry_in, listable_patient, pool_world


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


def field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


@pytest.fixture
def pw(session: Session, world: World) -> PoolWorld:
    w = pool_world(session, rf.referral_world(session, world))
    session.commit()
    return w


def _listed(session: Session, pw: PoolWorld, n: int = 2) -> tuple[list[WaitlistEntry], list[str]]:
    entries, names = [], []
    for _ in range(n):
        p = listable_patient(session, pw)
        entries.append(service.list_patient(session, pw.team, pw.pool.id, entry_in(p)))
        names.append(p.name)
    session.commit()
    return entries, names


def _switch(client: TestClient, username: str) -> str:
    client.cookies.clear()
    return login(client, username)


def test_each_role_sees_the_pool_as_it_may(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    (first, _), names = _listed(session, pw)
    pool_url = f"/pools/{pw.pool.id}"

    # the patients' team (BD-A): own names, may list, no lead tools
    login(client, "clinician")
    home = client.get("/")
    assert 'data-testid="nav-pools"' in home.text
    listing = client.get("/pools")
    assert listing.status_code == 200 and pool_url in listing.text
    assert f'data-testid="waiting-{pw.pool.id}">2<' in listing.text
    page = client.get(pool_url)
    assert page.status_code == 200
    assert names[0] in page.text and names[1] in page.text
    assert 'data-testid="list-patient"' in page.text and 'data-testid="pools-subnav"' in page.text
    assert 'data-testid="lead-tools"' not in page.text
    assert 'data-testid="chart-wait-100"' in page.text and "One pool of 3 rooms" in page.text
    assert "not ready — keeps its place" not in page.text  # both are ready
    assert client.get(f"/pools/entries/{first.id}").status_code == 200

    # the lead's coordinator (BJ-A): masked names, the units' buttons, policy and override
    _switch(client, "bjcoord")
    page = client.get(pool_url).text
    assert names[0] not in page and f"{names[0][:1]}*" in page
    assert 'data-testid="lead-tools"' in page and 'data-testid="override-form"' in page
    assert f'data-testid="free-{pw.units["bj1"].id}"' in page
    # BD-A's room is kept by BD-A's coordinators, and the lead's
    assert f'data-testid="free-{pw.units["bd1"].id}"' in page
    assert 'data-testid="list-patient"' not in page
    entry = client.get(f"/pools/entries/{first.id}").text
    assert names[0] not in entry and 'data-testid="update-form"' not in entry
    assert 'data-testid="links"' not in entry

    # BD-A's coordinator keeps BD-A's room only
    _switch(client, "coordinator")
    page = client.get(pool_url).text
    assert f'data-testid="free-{pw.units["bd1"].id}"' in page
    assert f'data-testid="free-{pw.units["bj1"].id}"' not in page
    assert 'data-testid="lead-tools"' not in page

    # an institution outside the pool: nothing to see
    outsider_inst = factories.institution(session, "OUT-1")
    factories.user(session, outsider_inst, Role.CLINICIAN, username="outsider")
    session.commit()
    _switch(client, "outsider")
    assert f"/pools/{pw.pool.id}" not in client.get("/pools").text
    assert client.get(pool_url).status_code == 404
    assert client.get(f"/pools/entries/{first.id}").status_code == 404
    assert client.get(f"/pools/{pw.pool.id}/overrides").status_code == 404
    assert client.get(f"/pools/{pw.pool.id}/waitlist/new").status_code == 404

    # an auditor has no pool permission: no menu item, refused
    _switch(client, "auditor")
    assert 'data-testid="nav-pools"' not in client.get("/").text
    assert client.get("/pools").status_code == 403


def test_free_a_room_see_why_accept_and_the_family_page_follows(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    (first, second), names = _listed(session, pw)
    bd1 = pw.units["bd1"]

    # the team makes a family link for the second patient: shown once, copyable
    token = login(client, "clinician")
    made = client.post(f"/pools/entries/{second.id}/status-links", data={"csrf_token": token})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    url = re.search(
        r'data-testid="status-link-url"[^>]*|value="([^"]+/pools/status/[^"]+)"', made.text
    )
    link = re.search(r'value="(http[^"]+/pools/status/([^"]+))"', made.text)
    assert url and link
    family_path = f"/pools/status/{link.group(2)}"
    family = client.get(family_path)
    assert family.status_code == 200 and family.headers["cache-control"].startswith("no-store")
    assert 'data-testid="position"><strong>2<' in family.text
    for name in names:
        assert name not in family.text
    assert "C91" not in family.text and "Baoding" not in family.text
    assert client.get(f"/pools/entries/{second.id}").text.count("Revoke") == 1

    # BD-A's coordinator frees the room by the button: it is offered at once
    token = _switch(client, "coordinator")
    freed = client.post(
        f"/pools/{pw.pool.id}/units/{bd1.id}/status",
        data={"csrf_token": token, "version": str(bd1.version), "status": "free"},
        follow_redirects=False,
    )
    assert freed.status_code == 303, freed.text
    page = client.get(freed.headers["location"]).text
    assert "went to the next eligible patient" in page
    assert f'data-testid="unit-offer-{bd1.id}"' in page
    decision = session.scalars(
        select(AllocationDecision).where(AllocationDecision.pool_id == pw.pool.id)
    ).one()
    assert decision.chosen_entry_id == first.id
    why = client.get(f"/pools/decisions/{decision.id}")
    assert why.status_code == 200
    assert 'class="chosen"' in why.text and "A unit became free" in why.text
    assert "Same urgency, waiting longer" in why.text or "listed first" in why.text
    assert "Hours to answer an offer" in why.text
    assert 'data-testid="decision-rule"' in why.text and "Candidates in the policy" in why.text

    # the team accepts on the entry page; the second patient moves up
    token = _switch(client, "clinician")
    entry_page = client.get(f"/pools/entries/{first.id}").text
    assert 'data-testid="accept-form"' in entry_page and names[0] in entry_page
    offer = session.scalars(select(Offer).where(Offer.entry_id == first.id)).one()
    bad = client.post(
        f"/pools/entries/{first.id}/offers/{offer.id}/accept",
        data={"csrf_token": token, "version": str(offer.version), "admitted_on": "2000-01-01"},
    )
    assert bad.status_code == 422
    assert "cannot be before the offer" in field_error(bad.text, "acc-admitted_on")
    accepted = client.post(
        f"/pools/entries/{first.id}/offers/{offer.id}/accept",
        data={"csrf_token": token, "version": str(offer.version)},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert "the patient is admitted" in client.get(accepted.headers["location"]).text
    family = client.get(family_path)
    assert 'data-testid="position"><strong>1<' in family.text
    zh_family = client.get(family_path + "?lang=zh_Hans").text
    assert zh("Place in line") in zh_family and 'lang="zh-Hans"' in zh_family

    # a form without the CSRF token is refused
    assert client.post(f"/pools/entries/{second.id}/status-links").status_code == 403


def test_listing_shows_errors_by_the_field(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    ready = listable_patient(session, pw)
    no_consent = rf.patient(session, pw.bd, national_id=None)
    session.commit()
    token = login(client, "clinician")
    url = f"/pools/{pw.pool.id}/waitlist/new"
    form = client.get(url)
    assert form.status_code == 200 and 'data-testid="list-form"' in form.text
    assert ready.name in form.text
    base = {
        "csrf_token": token,
        "icd10_code": "C91.0",
        "transplant_type": "allogeneic_related",
        "urgency": "urgent",
        "donor_found": "1",
        "workup_done": "1",
    }
    empty = client.post(url, data={"csrf_token": token})
    assert empty.status_code == 422
    assert "Choose the patient" in field_error(empty.text, "patient_id")
    assert field_error(empty.text, "room_class")
    unknown = client.post(url, data={**base, "patient_id": str(ready.id), "room_class": "999"})
    assert unknown.status_code == 422
    assert "100, 1000" in field_error(unknown.text, "room_class")
    consent = client.post(url, data={**base, "patient_id": str(no_consent.id), "room_class": "100"})
    assert consent.status_code == 422
    assert "Beijing Hospital A" in field_error(consent.text, "patient_id")
    assert 'data-testid="consent-link"' in consent.text
    not_a_site = client.post(
        url,
        data={
            **base,
            "patient_id": str(ready.id),
            "room_class": "1000",
            "sites": [str(pw.bj.id)],
        },
    )
    assert not_a_site.status_code == 422
    assert "Beijing Hospital A" in field_error(not_a_site.text, "sites")
    made = client.post(
        url,
        data={**base, "patient_id": str(ready.id), "room_class": "100", "sites": [str(pw.bd.id)]},
        follow_redirects=False,
    )
    assert made.status_code == 303
    entry_page = client.get(made.headers["location"]).text
    assert "The patient is on the waitlist" in entry_page and ready.name in entry_page
    assert 'data-testid="explanation"' in entry_page and "Units counted: 1" in entry_page
    again = client.post(url, data={**base, "patient_id": str(ready.id), "room_class": "100"})
    assert again.status_code == 409
    assert "already on this pool" in field_error(again.text, "patient_id")
    # the coordinator of the lead may not list (no pool.list)
    _switch(client, "bjcoord")
    assert client.get(url).status_code == 403


def test_entry_forms_update_and_close(client: TestClient, session: Session, pw: PoolWorld) -> None:
    p = listable_patient(session, pw)
    entry = service.list_patient(session, pw.team, pw.pool.id, entry_in(p, ready=False))
    session.commit()
    token = login(client, "clinician")
    url = f"/pools/entries/{entry.id}"
    page = client.get(url).text
    assert "not ready — keeps its place" in page
    saved = client.post(
        f"{url}/update",
        data={
            "csrf_token": token,
            "version": str(entry.version),
            "urgency": "critical",
            "donor_found": "1",
            "workup_done": "1",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(url).text
    assert 'data-testid="entry-urgency">Critical<' in page
    session.refresh(entry)
    stale = client.post(
        f"{url}/update",
        data={"csrf_token": token, "version": "1", "urgency": "routine"},
    )
    assert stale.status_code == 409 and "Someone else changed this" in stale.text
    no_reason = client.post(
        f"{url}/close",
        data={"csrf_token": token, "version": str(entry.version), "status": "withdrawn"},
    )
    assert no_reason.status_code == 422 and field_error(no_reason.text, "cl-reason")
    closed = client.post(
        f"{url}/close",
        data={
            "csrf_token": token,
            "version": str(entry.version),
            "status": "withdrawn",
            "reason": "The family moved abroad",
        },
        follow_redirects=False,
    )
    assert closed.status_code == 303
    page = client.get(url).text
    assert (
        'data-testid="entry-status">Withdrawn<' in page and 'data-testid="close-form"' not in page
    )


def test_the_leads_policy_override_and_the_report(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    (first, second), _ = _listed(session, pw)
    bj1 = pw.units["bj1"]
    token = login(client, "bjcoord")
    url = f"/pools/{pw.pool.id}"
    no_date = client.post(
        f"{url}/units/{bj1.id}/status",
        data={"csrf_token": token, "version": str(bj1.version), "status": "cleaning"},
    )
    assert no_date.status_code == 422
    assert "expected to be free" in field_error(no_date.text, f"u-{bj1.id}-expected_free_on")
    bad_policy = client.post(
        f"{url}/policy",
        data={
            "csrf_token": token,
            "version": str(pw.pool.version),
            "offer_hours": "0",
            "aging_days": "90",
            "turnaround_days": "2",
            "default_stay_days": "x",
        },
    )
    assert bad_policy.status_code == 422
    assert "1 to 168" in field_error(bad_policy.text, "p-offer_hours")
    assert field_error(bad_policy.text, "p-default_stay_days")
    policy = client.post(
        f"{url}/policy",
        data={
            "csrf_token": token,
            "version": str(pw.pool.version),
            "offer_hours": "48",
            "aging_days": "60",
            "turnaround_days": "3",
            "default_stay_days": "30",
        },
        follow_redirects=False,
    )
    assert policy.status_code == 303
    session.refresh(pw.pool)
    assert pw.pool.policy["offer_hours"] == 48
    # free BJ's room by the button: the first patient gets it by the policy
    freed = client.post(
        f"{url}/units/{bj1.id}/status",
        data={"csrf_token": token, "version": str(bj1.version), "status": "free"},
        follow_redirects=False,
    )
    assert freed.status_code == 303
    short = client.post(
        f"{url}/override",
        data={"csrf_token": token, "unit_id": str(bj1.id), "entry_id": "", "reason": "short"},
    )
    assert short.status_code == 422
    assert "at least 10" in field_error(short.text, "o-reason")
    assert field_error(short.text, "o-entry_id")
    done = client.post(
        f"{url}/override",
        data={
            "csrf_token": token,
            "unit_id": str(bj1.id),
            "entry_id": str(second.id),
            "reason": "Relapse risk: the graft cannot wait another week",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    why = client.get(done.headers["location"]).text
    assert 'data-testid="override-reason"' in why and "graft cannot wait" in why
    assert f"/pools/entries/{first.id}" in why  # the policy's own choice
    report = client.get(f"{url}/overrides")
    assert report.status_code == 200 and "graft cannot wait" in report.text
    csv = client.get(f"{url}/overrides.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "graft cannot wait" in csv.text and str(second.id) in csv.text
    ran = client.post(f"{url}/allocate", data={"csrf_token": token}, follow_redirects=False)
    assert ran.status_code == 303 and "done=allocated" in ran.headers["location"]
    # the team sees the report but not the lead's forms; may not post them
    token = _switch(client, "clinician")
    assert client.get(f"{url}/overrides").status_code == 200
    refused = client.post(
        f"{url}/policy",
        data={
            "csrf_token": token,
            "version": str(pw.pool.version),
            "offer_hours": "24",
            "aging_days": "90",
            "turnaround_days": "2",
            "default_stay_days": "35",
        },
    )
    assert refused.status_code == 403


def test_the_family_page_refuses_a_bad_link_in_both_languages(client: TestClient) -> None:
    zh_page = client.get("/pools/status/not-a-token")
    assert zh_page.status_code == 404
    assert zh("This status link does not work") in zh_page.text
    assert 'data-testid="lang-en"' in zh_page.text
    en = client.get("/pools/status/not-a-token?lang=en")
    assert en.status_code == 404 and "not valid or has expired" in en.text
    assert en.headers["x-robots-tag"].startswith("noindex")


def test_the_pool_page_in_chinese(client: TestClient, session: Session, pw: PoolWorld) -> None:
    _listed(session, pw, 1)
    pw.bj_coord.locale = "zh_Hans"
    session.commit()
    login(client, "bjcoord")
    page = client.get(f"/pools/{pw.pool.id}").text
    for message in ("Units", "Waitlist", "One pool against separate lists", "Lead coordinators"):
        assert zh(message) in page and zh(message) != message
    assert zh("Pools") in client.get("/pools").text


def test_the_pool_page_draws_occupancy_and_waits_month_by_month(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    factories.login(client, "bjcoord")
    page = client.get(f"/pools/{pw.pool.id}")
    assert page.status_code == 200
    assert 'data-testid="chart-occupancy-100"' in page.text
    assert 'data-testid="chart-waits-1000"' in page.text
    assert "occupancy (%)" in page.text
