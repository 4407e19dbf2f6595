"""The yearly bulletin: the commission reads Hebei's year told in sentences whose every number
is the indicators', sees its charts, and downloads it as PDF in Chinese and in English; a year
without records says so; a hospital doctor is refused; a bad year or region is named by its
field; the API gives the same figures and sentences; every reading and download is audited."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from medcircle.activity import service as activity
from medcircle.auth.domain import Role
from medcircle.dispatch.models import VisitOperation
from medcircle.kit.errors import Forbidden, ValidationFailed
from medcircle.kpis import bulletin
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World, login
from tests.integration.activity.test_service import actor_of, write
from tests.integration.kpis.test_pages import audited
from tests.integration.kpis.test_service import HEBEI, TODAY, _visit, compute, lines_of_2025

# Beijing A discharges 4 patients in 2024, 2 of them living in Hebei: 50.0 % (36.4 % in 2025)
LINES_OF_2024 = [
    f"P{n},BJ-A,儿科,inpatient,2024-03-01,2024-03-05,{'130606' if n < 2 else '110105'},5-14,"
    "C91.0,9000,"
    for n in range(4)
]


def _records(session: Session, world: World, tmp_path: Path) -> None:
    """Hebei's 2025: activity of 2024 and 2025, three out-calls of Beijing A's experts (5
    expert-days, 15 patients, 2 operations), two referrals up and one down (completed, the
    family's costs avoided estimated at 12,345.60 yuan), three remote consultations."""
    done = activity.import_file(
        session,
        actor_of(world, Role.PLATFORM_ADMIN),
        write(tmp_path, LINES_OF_2024 + lines_of_2025()),
        today=TODAY,
    )
    assert done.status == "imported", done.report
    first = _visit(session, world, world.baoding.id, date(2025, 3, 3), 3, 10)
    session.add(VisitOperation(visit_id=first, icd10_code="C91.0", procedure="穿刺", count=2))
    _visit(session, world, world.baoding2.id, date(2025, 3, 10), 1, 5)
    _visit(session, world, world.baoding.id, date(2025, 6, 2), 1, 0)
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding, national_id=None)
    local = world.users[Role.CLINICIAN]
    for month in (3, 4):
        at = datetime(2025, month, 10, 2, tzinfo=UTC)
        rf.referral(session, child, local, circle.bj_paeds, submitted_at=at)
    june = datetime(2025, 6, 1, 8, tzinfo=UTC)
    rf.kept_local(session, circle, child, submitted_at=june, yuan=12345.6)
    cw = cf.consult_world(session, circle)
    for day in (3, 4, 5):
        cf.consultation(session, cw, asked_at=datetime(2025, 3, day, 1, tzinfo=UTC))
    session.commit()


@pytest.fixture
def recorded(session: Session, world: World, tmp_path: Path) -> World:
    _records(session, world, tmp_path)
    return world


EN = (
    "Altogether 1 hospital in Beijing has taken part in the Beijing–Hebei medical cooperation, "
    "making 3 out-calls."
)
ZH = "北京市共有1家医院参与京冀医疗合作，累计派出专家3人次。"


def test_the_figures_are_the_indicators(recorded: World, session: Session) -> None:
    analyst = actor_of(recorded, Role.COMMISSION_ANALYST)
    b = bulletin.gather(session, analyst, 2025, today=TODAY)
    f = b.figures

    def value(slug: str) -> float | None:
        return compute(recorded, session, slug, region=HEBEI).value

    assert f.out_calls == value("out-calls") == 3
    assert f.person_visits == value("expert-person-visits") == 5
    assert f.patients == value("patients-received") == 15
    assert f.operations == value("visiting-operations") == 2
    assert f.consultations == value("remote-consultations") == 3
    assert (f.referrals_up, f.referrals_down) == (value("referrals-up"), value("referrals-down"))
    assert (f.referrals_up, f.referrals_down) == (2, 1)
    assert f.costs_avoided_yuan == value("family-costs-avoided") == pytest.approx(12345.6)
    assert f.kept_local == 1
    assert f.local_rate == value("local-treatment-rate") == pytest.approx(73 / 76)
    # only Beijing A's experts went out
    assert f.institutions == 1
    outflow = dict(f.outflow)
    assert min(outflow) == 2013 and max(outflow) == 2025
    earlier = compute(recorded, session, "outflow-share", region=HEBEI, year=2024)
    assert outflow[2024] == earlier.value
    assert outflow[2024] == 0.5 and outflow[2025] == pytest.approx(4 / 11)
    assert outflow[2013] is None
    assert [m.out_calls for m in f.months if m.out_calls] == [2, 1]
    # no cleanroom in the records: neither admissions nor occupancy
    assert f.cleanroom_admissions == 0 and f.cleanroom_occupancy is None


def test_only_those_who_read_the_region_indicators_get_it(world: World, session: Session) -> None:
    for role in (Role.CLINICIAN, Role.INSTITUTION_ADMIN, Role.EXPERT):
        with pytest.raises(Forbidden):
            bulletin.gather(session, actor_of(world, role), 2025, today=TODAY)
    admin = actor_of(world, Role.PLATFORM_ADMIN)
    assert bulletin.gather(session, admin, 2025, today=TODAY).figures.out_calls == 0
    with pytest.raises(ValidationFailed) as e:
        bulletin.gather(session, admin, 1999, today=TODAY)
    assert e.value.code == "bad_year"
    with pytest.raises(ValidationFailed) as e:
        bulletin.gather(session, admin, 2025, "990000", today=TODAY)
    assert e.value.code == "unknown_region"


def _speak(client: TestClient, token: str, locale: str) -> None:
    client.post("/locale", data={"csrf_token": token, "locale": locale, "next": "/"})


def test_the_commission_reads_the_bulletin_in_both_languages(
    client: TestClient, recorded: World, session: Session
) -> None:
    token = login(client, "commissionanalyst")
    _speak(client, token, "en")
    home = client.get("/")
    assert 'data-testid="nav-bulletin"' in home.text
    board = client.get("/indicators", params={"year": 2025, "region": HEBEI})
    assert 'href="/bulletin?year=2025&amp;region=130000"' in board.text
    chosen = client.get("/bulletin", params={"year": 2025, "region": HEBEI}, follow_redirects=False)
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/bulletin/2025?region=130000"
    page = client.get("/bulletin/2025")
    assert page.status_code == 200, page.text
    text = page.text
    assert EN in text
    assert "Their experts worked 5 expert-days on site, and performed 2 operations." in text
    assert "A total number of 15 patients were received, and 3 remote consultations" in text
    assert "A total of 2 referrals were made up to higher-level hospitals, and 1 down" in text
    assert "decreased from 50.0 percent in 2024 to 36.4 percent in 2025." in text
    assert (
        "Keeping care local through 1 referral saved families an estimated 12,346 yuan in "
        "travel and lodging." in text
    )
    assert "96.1 percent of the visits and admissions of Hebei residents" in text
    # no cleanroom records: no sentence about them
    assert "cleanrooms in Hebei" not in text
    for chart in ("chart-outflow", "chart-out-calls", "chart-referrals"):
        assert f'data-testid="{chart}"' in text
    assert "<polyline" in text and "<svg" in text
    assert 'href="/bulletin/2025.pdf?region=130000&amp;lang=en"' in text
    _speak(client, token, "zh_Hans")
    page = client.get("/bulletin/2025")
    assert ZH in page.text
    fell = "北京市二级及以上医院出院患者中河北省患者所占比例由2024年的50.0%下降至2025年的36.4%。"
    assert fell in page.text
    assert "通过1例转诊实现本地诊治，为患者家庭节省往返交通和住宿费用约1.2万元。" in page.text
    # the table of figures gives the sum in the same words
    assert "1.2万元" in page.text.split('data-testid="bulletin-figures"')[1]
    # each reading is in the audit trail
    assert [e.detail for e in audited(session, "kpis.bulletin.read")] == [
        {"year": 2025, "region": HEBEI}
    ] * 2


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 1
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))


def test_the_bulletin_as_pdf_in_chinese_and_english(
    client: TestClient, recorded: World, session: Session
) -> None:
    token = login(client, "commissionanalyst")
    en = client.get("/bulletin/2025.pdf", params={"lang": "en"})
    assert en.status_code == 200, en.text
    assert en.headers["content-type"] == "application/pdf"
    assert en.headers["content-disposition"] == (
        'attachment; filename="medcircle-bulletin-2025-en.pdf"'
    )
    text = _pdf_text(en.content)
    assert re.sub(r"\s+", "", EN) in text
    assert "decreasedfrom50.0percentin2024to36.4percentin2025" in text
    zh = client.get("/bulletin/2025.pdf", params={"lang": "zh_Hans"})
    assert zh.status_code == 200
    assert zh.headers["content-disposition"].endswith('medcircle-bulletin-2025-zh_Hans.pdf"')
    text = _pdf_text(zh.content)
    assert ZH in text
    assert "接诊患者15人次，开展远程会诊3例。" in text
    # the reader's language when none is asked
    _speak(client, token, "zh_Hans")
    assert client.get("/bulletin/2025.pdf").headers["content-disposition"].endswith('-zh_Hans.pdf"')
    downloads = audited(session, "kpis.bulletin.export")
    assert [e.detail["language"] for e in downloads] == ["en", "zh_Hans", "zh_Hans"]
    assert {e.actor_username for e in downloads} == {"commissionanalyst"}


def test_a_year_without_records_says_so(client: TestClient, world: World) -> None:
    _speak(client, login(client, "commissionanalyst"), "zh_Hans")
    page = client.get("/bulletin/2023")
    assert page.status_code == 200
    assert "2023年未记录赴河北省的专家出诊。" in page.text
    assert "2023年未记录河北省的双向转诊。" in page.text
    assert "尚未导入2023年北京市二级及以上医院的出院数据" in page.text
    assert "累计派出专家0人次" not in page.text
    # no referral kept care local: no sentence on the costs avoided
    assert "实现本地诊治" not in page.text


def test_a_hospital_doctor_is_refused_and_bad_questions_are_named(
    client: TestClient, world: World
) -> None:
    login(client, "clinician")
    assert 'data-testid="nav-bulletin"' not in client.get("/").text
    for path in ("/bulletin", "/bulletin/2025", "/bulletin/2025.pdf"):
        assert client.get(path, follow_redirects=False).status_code == 403
    client.cookies.clear()
    login(client, "commissionanalyst")
    for year in ("1999", "abc", "2999"):
        page = client.get(f"/bulletin/{year}")
        assert page.status_code == 422
        assert 'id="year-error"' in page.text and "2000" in page.text
    page = client.get("/bulletin/2025", params={"region": "990000"})
    assert page.status_code == 422 and 'id="region-error"' in page.text
    assert client.get("/bulletin/1999.pdf").status_code == 422


def test_the_api_gives_the_figures_and_sentences(
    client: TestClient, recorded: World, session: Session
) -> None:
    r = client.get(
        "/api/v1/bulletin/2025",
        params={"lang": "en"},
        headers=recorded.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "en" and body["region"] == HEBEI
    assert body["figures"]["out_calls"] == 3 and body["figures"]["institutions"] == 1
    assert body["figures"]["kept_local"] == 1
    assert body["figures"]["costs_avoided_yuan"] == pytest.approx(12345.6)
    assert body["paragraphs"][0].startswith(EN)
    assert [o["share"] for o in body["outflow"] if o["year"] == 2024] == [0.5]
    assert len(body["months"]) == 12 and body["months"][2] == {
        "key": "2025-03",
        "out_calls": 2,
        "referrals_up": 1,
        "referrals_down": 0,
    }
    zh = client.get(
        "/api/v1/bulletin/2025",
        params={"lang": "zh_Hans"},
        headers=recorded.auth(Role.COMMISSION_ANALYST),
    ).json()
    assert zh["paragraphs"][0].startswith(ZH)
    assert [e.detail for e in audited(session, "kpis.bulletin.read")] == [
        {"year": 2025, "region": HEBEI, "language": "en"},
        {"year": 2025, "region": HEBEI, "language": "zh_Hans"},
    ]
    refused = client.get("/api/v1/bulletin/2025", headers=recorded.auth(Role.CLINICIAN))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    bad = client.get("/api/v1/bulletin/1999", headers=recorded.auth(Role.COMMISSION_ANALYST))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_year"
