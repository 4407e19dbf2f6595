"""The status badge of the alliance members table tells membership on the day the list is
filtered by, and today when it is not filtered by a day."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.registry.models import AllianceMember
from tests import factories
from tests import registry_factories as rf
from tests.factories import World, login


def _badge(html: str, member: AllianceMember) -> str:
    """The text of one member's status cell."""
    cell = html.split(f'data-testid="member-status-{member.id}">', 1)[1]
    return cell.split("</td>", 1)[0]


def _members_table(html: str) -> str:
    return html.split('data-testid="members"', 1)[1].split("</table>", 1)[0]


def test_badge_shows_the_status_on_the_filtered_day(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    lead = session.scalars(
        select(AllianceMember).where(AllianceMember.alliance_id == alliance.id)
    ).one()
    gone = rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2020, 1, 1))
    future = rf.member(session, alliance, world.beijing2, date(2099, 1, 1))
    session.commit()
    login(client, "allianceadmin")

    today = client.get(f"/alliances/{alliance.id}")
    assert today.status_code == 200
    assert "Current member" in _badge(today.text, lead)
    assert "Not a member" in _badge(today.text, gone)
    assert "Not a member" in _badge(today.text, future)
    assert "Status on" not in _members_table(today.text)

    # a member that has since left was a member on a day before it left
    past = client.get(f"/alliances/{alliance.id}", params={"active_on": "2019-06-01"})
    table = _members_table(past.text)
    assert "Status on" in table
    assert "Member on this day" in _badge(past.text, gone)
    assert "Member on this day" in _badge(past.text, lead)
    assert "Current member" not in table and "Not a member" not in table
    assert f'data-testid="member-status-{future.id}"' not in table

    # the leaving day itself no longer counts, and a member joining later counts once it has
    later = client.get(f"/alliances/{alliance.id}", params={"active_on": "2099-06-01"})
    table = _members_table(later.text)
    assert "Member on this day" in _badge(later.text, future)
    assert f'data-testid="member-status-{gone.id}"' not in table

    # a day that cannot be read is reported and the badge falls back to today
    bad = client.get(f"/alliances/{alliance.id}", params={"active_on": "2019-13-45"})
    assert "Enter a date as YYYY-MM-DD." in bad.text
    assert "Not a member" in _badge(bad.text, gone)
    assert "Current member" in _badge(bad.text, lead)


def test_badge_on_a_filtered_day_in_chinese(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    gone = rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2020, 1, 1))
    factories.user(
        session, world.baoding, Role.ALLIANCE_ADMIN, username="zhalliance", locale="zh_Hans"
    )
    session.commit()
    login(client, "zhalliance")
    page = client.get(f"/alliances/{alliance.id}", params={"active_on": "2019-06-01"})
    assert "当日为成员" in _badge(page.text, gone)
    assert "的状态" in _members_table(page.text)
