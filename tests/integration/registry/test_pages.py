"""Registry pages: lists and profiles render, forms re-render with messages, writes redirect."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.registry.models import (
    AllianceCentre,
    AllianceMember,
    Department,
    Institution,
    InstitutionName,
    Practitioner,
)
from tests import registry_factories as rf
from tests.factories import World, login


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_institution_list_renders_and_filters(client: TestClient, world: World) -> None:
    login(client, "clinician")
    r = client.get("/institutions")
    assert r.status_code == 200
    assert "BJ-A" in r.text and "BD-B" in r.text
    filtered = client.get("/institutions", params={"division_code": "130602"})
    assert "BD-B" in filtered.text and "BJ-A" not in filtered.text
    assert "Register an institution" not in r.text


def test_institution_list_htmx_returns_the_table_only(client: TestClient, world: World) -> None:
    login(client, "clinician")
    r = client.get(
        "/institutions",
        params={"q": "Beijing"},
        headers={"HX-Request": "true", "HX-Target": "institution-results"},
    )
    assert r.status_code == 200
    assert "<html" not in r.text
    assert "BJ-A" in r.text and "BD-A" not in r.text


def test_bad_filter_shows_a_message_not_an_error(client: TestClient, world: World) -> None:
    login(client, "clinician")
    r = client.get("/institutions", params={"level": "nonsense", "division_code": "abc"})
    assert r.status_code == 200
    assert "Choose one of the options." in r.text


def test_profile_shows_departments_staff_names_and_alliances(
    client: TestClient, world: World, session: Session
) -> None:
    dept = rf.department(session, world.baoding, "ped_hem_onc", name_en="Haematology")
    rf.practitioner(
        session, world.baoding, "chief", "ped_hem_onc", department_id=dept.id, name_en="Dr Wang"
    )
    rf.name_row(session, world.baoding)
    rf.alliance(session, world.baoding, name_en="Baoding Paediatric Alliance")
    session.commit()
    login(client, "clinician")
    r = client.get(f"/institutions/{world.baoding.id}")
    assert r.status_code == 200
    for text in (
        "Haematology",
        "Dr Wang",
        "Chief physician",
        "Baoding Paediatric Alliance",
        "Paediatric haematology-oncology",
        "Secondary",
    ):
        assert text in r.text
    assert "Edit profile" not in r.text


def test_edit_button_only_for_those_allowed(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    own = client.get(f"/institutions/{world.baoding.id}")
    assert "Edit profile" in own.text and 'data-testid="department-form"' in own.text
    other = client.get(f"/institutions/{world.baoding2.id}")
    assert "Edit profile" not in other.text
    assert client.get(f"/institutions/{world.baoding2.id}/edit").status_code == 403


def test_unknown_institution_page_is_404(client: TestClient, world: World) -> None:
    login(client, "clinician")
    assert client.get("/institutions/999999").status_code == 404


def test_register_institution_page(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "platformadmin")
    assert client.get("/institutions/new").status_code == 200
    before = count(session, Institution)
    bad = client.post(
        "/institutions/new",
        data={
            "csrf_token": token,
            "code": "X",
            "name_zh": "新医院",
            "name_en": "New",
            "level": "tertiary",
            "grade": "A",
            "type": "general",
            "division_code": "130606",
            "bed_count": "-5",
            "latitude": "abc",
            "longitude": "1",
        },
    )
    assert bad.status_code == 422
    assert "Enter a number." in bad.text
    assert count(session, Institution) == before
    bad2 = client.post(
        "/institutions/new",
        data={
            "csrf_token": token,
            "code": "X",
            "name_zh": "新医院",
            "name_en": "New",
            "level": "tertiary",
            "grade": "A",
            "type": "general",
            "division_code": "130606",
            "bed_count": "-5",
        },
    )
    assert bad2.status_code == 422
    assert "The bed count cannot be negative." in bad2.text
    assert "Use 2 to 32 capital letters" in bad2.text
    ok = client.post(
        "/institutions/new",
        data={
            "csrf_token": token,
            "code": "bd-new",
            "name_zh": "新医院",
            "name_en": "New",
            "level": "secondary",
            "grade": "B",
            "type": "general",
            "division_code": "130606",
            "bed_count": "120",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert count(session, Institution) == before + 1
    page = client.get(ok.headers["location"])
    assert "BD-NEW" in page.text and "Grade B" in page.text


def test_register_page_is_for_platform_admins(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    assert client.get("/institutions/new").status_code == 403


def test_edit_own_institution_page(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    form = client.get(f"/institutions/{world.baoding.id}/edit")
    assert form.status_code == 200
    assert 'name="code"' not in form.text
    base = {
        "csrf_token": token,
        "version": "1",
        "name_zh": "保定甲医院",
        "name_en": "Baoding Hospital A",
        "type": "general",
        "division_code": "130606",
    }
    bad = client.post(
        f"/institutions/{world.baoding.id}/edit", data={**base, "division_code": "999999"}
    )
    assert bad.status_code == 422
    assert "999999 is not a known administrative division code." in bad.text
    ok = client.post(
        f"/institutions/{world.baoding.id}/edit",
        data={**base, "bed_count": "650"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    session.expire_all()
    assert session.get(Institution, world.baoding.id).bed_count == 650  # type: ignore[union-attr]
    stale = client.post(f"/institutions/{world.baoding.id}/edit", data={**base, "bed_count": "700"})
    assert stale.status_code == 422
    assert "Someone else changed this record" in stale.text


def test_rename_page(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    url = f"/institutions/{world.baoding.id}/rename"
    bad = client.post(
        url, data={"csrf_token": token, "name_zh": "", "name_en": "X", "valid_from": "2015-13-01"}
    )
    assert bad.status_code == 422
    assert "This field is required." in bad.text and "Enter a date as YYYY-MM-DD." in bad.text
    assert count(session, InstitutionName) == 0
    ok = client.post(
        url,
        data={
            "csrf_token": token,
            "name_zh": "北京儿童医院保定医院",
            "name_en": "BCH Baoding",
            "valid_from": "2015-10-01",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert count(session, InstitutionName) == 2


def test_department_pages(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    url = f"/institutions/{world.baoding.id}/departments"
    bad = client.post(
        url,
        data={
            "csrf_token": token,
            "specialty_code": "astrology",
            "name_zh": "星象科",
            "name_en": "Astrology",
        },
    )
    assert bad.status_code == 422
    assert "astrology is not on the specialty list." in bad.text
    assert count(session, Department) == 0
    ok = client.post(
        url,
        data={
            "csrf_token": token,
            "specialty_code": "neonatology",
            "name_zh": "新生儿科",
            "name_en": "Neonatology",
            "bed_count": "30",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    dept = session.scalars(select(Department)).one()
    edit = client.get(f"/departments/{dept.id}/edit")
    assert edit.status_code == 200
    bad_edit = client.post(
        f"/departments/{dept.id}/edit",
        data={
            "csrf_token": token,
            "specialty_code": "neonatology",
            "name_zh": "新生儿科",
            "name_en": "Neonatology",
            "bed_count": "lots",
            "is_active": "true",
        },
    )
    assert bad_edit.status_code == 422 and "Enter a whole number." in bad_edit.text
    closed = client.post(
        f"/departments/{dept.id}/edit",
        data={
            "csrf_token": token,
            "specialty_code": "neonatology",
            "name_zh": "新生儿科",
            "name_en": "Neonatology",
            "is_active": "false",
        },
        follow_redirects=False,
    )
    assert closed.status_code == 303
    session.expire_all()
    assert session.get(Department, dept.id).is_active is False  # type: ignore[union-attr]


def test_practitioner_pages(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    url = f"/institutions/{world.baoding.id}/practitioners"
    bad = client.post(
        url,
        data={
            "csrf_token": token,
            "name_zh": "王医生",
            "name_en": "Dr Wang",
            "specialty_code": "neonatology",
        },
    )
    assert bad.status_code == 422 and "This field is required." in bad.text
    assert count(session, Practitioner) == 0
    ok = client.post(
        url,
        data={
            "csrf_token": token,
            "name_zh": "王医生",
            "name_en": "Dr Wang",
            "title": "attending",
            "specialty_code": "neonatology",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    pr = session.scalars(select(Practitioner)).one()
    listing = client.get("/practitioners", params={"q": "wang"})
    assert "Dr Wang" in listing.text and "Attending physician" in listing.text
    edit = client.post(
        f"/practitioners/{pr.id}/edit",
        data={
            "csrf_token": token,
            "name_zh": "王医生",
            "name_en": "Dr Wang",
            "title": "chief",
            "specialty_code": "neonatology",
            "is_active": "true",
        },
        follow_redirects=False,
    )
    assert edit.status_code == 303
    session.expire_all()
    assert session.get(Practitioner, pr.id).title == "chief"  # type: ignore[union-attr]


def test_alliance_pages(client: TestClient, world: World, session: Session) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    gone = rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2020, 1, 1))
    session.commit()
    token = login(client, "allianceadmin")
    assert alliance.name_en in client.get("/alliances").text
    page = client.get(f"/alliances/{alliance.id}")
    assert page.status_code == 200 and 'data-testid="member-form"' in page.text
    on_day = client.get(f"/alliances/{alliance.id}", params={"active_on": "2021-01-01"})
    assert "BD-B" not in on_day.text.split('data-testid="members"')[1].split("</table>")[0]
    county = client.get(f"/alliances/{alliance.id}", params={"division_code": "130602"})
    members_table = county.text.split('data-testid="members"')[1].split("</table>")[0]
    assert "BD-B" in members_table and "BD-A" not in members_table
    bad = client.post(
        f"/alliances/{alliance.id}/members",
        data={
            "csrf_token": token,
            "institution_id": str(world.beijing.id),
            "joined_on": "2019-01-01",
            "left_on": "2018-01-01",
        },
    )
    assert bad.status_code == 422
    assert "The leaving day must be after the joining day." in bad.text
    before = count(session, AllianceMember)
    ok = client.post(
        f"/alliances/{alliance.id}/members",
        data={
            "csrf_token": token,
            "institution_id": str(world.beijing.id),
            "joined_on": "2019-01-01",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert count(session, AllianceMember) == before + 1
    bad_leave = client.post(
        f"/alliance-members/{gone.id}/leave", data={"csrf_token": token, "left_on": "2017-01-01"}
    )
    assert bad_leave.status_code == 422
    assert "The leaving day must be after the joining day." in bad_leave.text
    bad_centre = client.post(
        f"/alliances/{alliance.id}/centres",
        data={
            "csrf_token": token,
            "kind": "inspection",
            "name_zh": "检验中心",
            "name_en": "Inspection",
            "host_institution_id": str(gone.institution_id),
            "established_on": "2021-01-01",
        },
    )
    assert bad_centre.status_code == 422
    assert "The host must be a member of the alliance on the opening day." in bad_centre.text
    centre = client.post(
        f"/alliances/{alliance.id}/centres",
        data={
            "csrf_token": token,
            "kind": "inspection",
            "name_zh": "检验中心",
            "name_en": "Inspection",
            "host_institution_id": str(world.baoding.id),
            "established_on": "2018-01-01",
        },
        follow_redirects=False,
    )
    assert centre.status_code == 303
    assert count(session, AllianceCentre) == 1


def test_alliance_page_of_another_lead_has_no_forms(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.beijing)
    session.commit()
    token = login(client, "allianceadmin")
    page = client.get(f"/alliances/{alliance.id}")
    assert 'data-testid="member-form"' not in page.text
    r = client.post(
        f"/alliances/{alliance.id}/members",
        data={
            "csrf_token": token,
            "institution_id": str(world.baoding.id),
            "joined_on": "2019-01-01",
        },
    )
    assert r.status_code == 403


def test_create_alliance_page(client: TestClient, world: World) -> None:
    token = login(client, "platformadmin")
    bad = client.post(
        "/alliances",
        data={
            "csrf_token": token,
            "code": "BD-PED",
            "name_zh": "保定儿科医联体",
            "name_en": "Baoding Paediatric",
            "lead_institution_id": str(world.baoding.id),
        },
    )
    assert bad.status_code == 422 and "This field is required." in bad.text
    ok = client.post(
        "/alliances",
        data={
            "csrf_token": token,
            "code": "BD-PED",
            "name_zh": "保定儿科医联体",
            "name_en": "Baoding Paediatric",
            "lead_institution_id": str(world.baoding.id),
            "founded_on": "2017-06-01",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = client.get(ok.headers["location"])
    assert "Baoding Paediatric" in page.text


def test_pages_need_login(client: TestClient, world: World) -> None:
    r = client.get("/institutions", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_labels_are_shown_in_chinese(client: TestClient, world: World, session: Session) -> None:
    rf.practitioner(session, world.baoding, "associate_chief", "neonatology")
    session.commit()
    token = login(client, "clinician")
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/"})
    page = client.get(f"/institutions/{world.baoding.id}")
    assert page.status_code == 200
    for text in ("二级", "综合医院", "副主任医师", "新生儿科", "保定甲医院"):
        assert text in page.text
    assert "Secondary" not in page.text


def test_institution_admin_cannot_post_to_another_institution(
    client: TestClient, world: World, session: Session
) -> None:
    token = login(client, "institutionadmin")
    r = client.post(
        f"/institutions/{world.baoding2.id}/departments",
        data={
            "csrf_token": token,
            "specialty_code": "neonatology",
            "name_zh": "新生儿科",
            "name_en": "Neonatology",
        },
    )
    assert r.status_code == 403
    assert count(session, Department) == 0
    edit = client.post(
        f"/institutions/{world.baoding2.id}/edit",
        data={
            "csrf_token": token,
            "version": "1",
            "name_zh": "X",
            "name_en": "X",
            "type": "general",
            "division_code": "130602",
        },
    )
    assert edit.status_code == 403
