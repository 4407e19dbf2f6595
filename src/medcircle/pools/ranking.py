"""The allocation policy's decision for one unit, made in SQL: the same result as
``policy.Queue.decide`` over the pool's waiting entries, reading only the front of the line.

The policy's order is (effective urgency rank, listing day, entry id). The effective rank
depends on the day, and only falls as the wait grows: within one urgency the policy's order
is the order of listing, and "ranked below r" is "listed on or before a cut-off day" computed
here from today and ``aging_days`` (no date arithmetic in SQL, so the same SQL serves SQLite
and PostgreSQL). A decision is two queries:

1. the first eligible entries in order, eligible by room class, readiness and site (LIMIT:
   the number kept, plus the number of entries that declined this unit, which are skipped
   here as the policy skips them, counted as passed over when ahead of the chosen one). Read
   per urgency in the order of listing, which is the policy's order within one urgency (the
   effective rank only falls as the wait grows), from the front of an index, and merged: a
   decision reads a few dozen rows, whatever the length of the list;
2. one aggregate over the unit's room class, counting its entries by readiness, whether they
   are ahead of the chosen one (the row-value comparison written out), whether they declined
   this unit, and their stored sites: a handful of groups, from which come the entries not
   ready and those ready but not accepting the unit's hospital ahead of the chosen one, and
   the ready entries accepting it in all (the eligible count, less those that declined it).
   Whether a group accepts the hospital is read from its stored sites here, as the
   candidates' sites are: the acceptable sites are parsed once per distinct value, not once
   per row in SQL (the JSON parse is most of the cost of a scan).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from medcircle.pools.models import WaitlistEntry
from medcircle.pools.policy import (
    URGENCY_RANK,
    Candidate,
    Decision,
    PassedOver,
    PolicySettings,
    Rule,
    Slot,
    Urgency,
    effective_rank,
    packed_key,
    rule_between,
)
from medcircle.pools.schemas import EntryStatus

W = WaitlistEntry

# the urgency of a stored value, without an enum look-up per row
_URGENCY_OF: dict[str, Urgency] = {u.value: u for u in Urgency}
_NO_UNITS: frozenset[int] = frozenset()

# what the policy reads of an entry, in the order ``CandidateReader`` expects
CANDIDATE_COLUMNS: tuple[Any, ...] = (
    W.id,
    W.urgency,
    W.listed_on,
    W.room_class,
    # the acceptable sites as their stored text, parsed once per distinct value
    cast(W.acceptable_institution_ids, Text),
    W.donor_found,
    W.workup_done,
    W.listing_institution_id,
)


class CandidateReader:
    """Rows of ``CANDIDATE_COLUMNS`` as the policy's candidates. The acceptable sites are
    parsed once per distinct stored text (a pool has a handful of site combinations)."""

    def __init__(self, declined: Mapping[int, Iterable[int]] | None = None) -> None:
        self.declined = declined or {}
        self._sites: dict[str | None, frozenset[int]] = {}

    def sites(self, sites_text: str | None) -> frozenset[int]:
        """The acceptable sites of their stored text."""
        sites = self._sites.get(sites_text)
        if sites is None:
            sites = frozenset(json.loads(sites_text) or ()) if sites_text else frozenset()
            self._sites[sites_text] = sites
        return sites

    def __call__(self, row: Sequence[Any]) -> Candidate:
        entry_id, urgency, listed_on, room_class, sites_text, donor, workup, listing = row
        sites = self.sites(sites_text)
        refused = self.declined.get(entry_id)
        return Candidate(
            entry_id=entry_id,
            urgency=_URGENCY_OF.get(urgency) or Urgency(urgency),
            listed_on=listed_on,
            room_class=room_class,
            sites=sites,
            ready=bool(donor and workup),
            listing_institution_id=listing,
            declined_units=frozenset(refused) if refused else _NO_UNITS,
        )


def ranked_below(urgency: Urgency, rank: int, today: date, settings: PolicySettings) -> Any:
    """An entry of ``urgency`` has an effective rank (``policy.effective_rank``: the urgency's
    rank less one for each ``aging_days`` waited, floored at 0) below ``rank`` on ``today``:
    a constant, or being listed on or before a cut-off day (the rank falls as the wait grows,
    so the entries ranked below are a prefix of the urgency's line in the order of listing)."""
    base = URGENCY_RANK[urgency]
    if rank <= 0:
        return false()
    if rank > base:
        return true()
    if settings.aging_days <= 0:
        return false()
    # below ``rank`` is having waited ``base - rank + 1`` periods or more
    return W.listed_on <= today - timedelta(days=(base - rank + 1) * settings.aging_days)


def ready_expr() -> ColumnElement[bool]:
    """Ready to be admitted: donor found and work-up done (``service.ready``)."""
    return and_(W.donor_found.is_(True), W.workup_done.is_(True))


def accepts_expr(dialect: str, institution_id: int) -> ColumnElement[bool]:
    """The entry's team accepts units of ``institution_id`` (true or false, never null)."""
    if dialect == "postgresql":
        contains = cast(W.acceptable_institution_ids, JSONB).op("@>", is_comparison=True)(
            cast(literal(json.dumps([institution_id])), JSONB)
        )
        return func.coalesce(contains, false())
    sites = func.json_each(W.acceptable_institution_ids).table_valued("value")
    return select(literal(1)).select_from(sites).where(sites.c.value == institution_id).exists()


def ahead_expr(
    key: tuple[int, date, int] | None, today: date, settings: PolicySettings
) -> ColumnElement[bool]:
    """The entry's order key (effective rank, listing day, id) is less than ``key`` (every
    entry is when there is no key), written per urgency without computing the rank per row:
    ranked below the key's rank, or ranked at most as the key and listed before it."""
    if key is None:
        return true()
    rank, listed_on, entry_id = key
    before = or_(W.listed_on < listed_on, and_(W.listed_on == listed_on, W.id < entry_id))
    return or_(
        *(
            and_(
                W.urgency == urgency.value,
                or_(
                    ranked_below(urgency, rank, today, settings),
                    and_(ranked_below(urgency, rank + 1, today, settings), before),
                ),
            )
            for urgency in Urgency
        )
    )


def _front(where: list[ColumnElement[bool]], accepts: ColumnElement[bool], n: int) -> Any:
    """The first ``n`` ready entries accepting the unit's hospital of each urgency, in the
    order of listing. Within one urgency the effective rank only falls as the wait grows, so
    the order of listing is the policy's order there: the front of the whole line is among
    these, and each part is read from the front of the index (pool, status, room class,
    urgency, listing day, id), the site test made only on the rows read."""
    parts = [
        select(*CANDIDATE_COLUMNS)
        .where(*where, ready_expr(), W.urgency == urgency.value, accepts)
        .order_by(W.listed_on, W.id)
        .limit(max(n, 1))
        .subquery()
        for urgency in Urgency
    ]
    return union_all(*(select(*part.c) for part in parts))


def decide_in_db(
    session: Session,
    pool_id: int,
    slot: Slot,
    today: date,
    settings: PolicySettings,
    declined: Mapping[int, Iterable[int]],
    exclude: Iterable[int] = (),
    top: int = 5,
) -> Decision:
    """Who gets ``slot`` among the pool's waiting entries: what
    ``Queue(waiting candidates, today, settings).decide(slot, top)`` gives, with the entries
    of ``exclude`` left out (chosen for another unit in the same round), in two queries.
    ``declined``: entry -> the units it declined (or let expire) since each was last freed."""
    dialect = session.get_bind().dialect.name
    ready = ready_expr()
    accepts = accepts_expr(dialect, slot.institution_id)
    refusing = sorted(e for e, units in declined.items() if slot.unit_id in set(units))
    where: list[ColumnElement[bool]] = [
        W.pool_id == pool_id,
        W.status == EntryStatus.WAITING.value,
        W.room_class == slot.room_class,
    ]
    left_out = sorted(set(exclude))
    if left_out:
        where.append(W.id.not_in(left_out))

    # 1. the front of the line of the unit's class and hospital
    read = CandidateReader(declined)
    front = [
        read(row) for row in session.execute(_front(where, accepts, max(top, 1) + len(refusing)))
    ]
    front.sort(key=lambda c: (effective_rank(c, today, settings), c.listed_on, c.entry_id))
    picked: list[tuple[int, Candidate]] = []
    declined_ahead = 0
    for c in front:
        if slot.unit_id in c.declined_units:
            if not picked:
                declined_ahead += 1
            continue
        picked.append((packed_key(effective_rank(c, today, settings), c.listed_on, c.entry_id), c))
        if len(picked) >= top:
            break

    # 2. the counts: passed over ahead of the chosen entry, and eligible in all
    chosen = picked[0][1] if picked else None
    ahead = ahead_expr(
        (effective_rank(chosen, today, settings), chosen.listed_on, chosen.entry_id)
        if chosen
        else None,
        today,
        settings,
    )
    # the flags once per row, counted by their combination and the stored sites (a pool has a
    # handful of site combinations: whether one accepts the unit's hospital is read here, as
    # the candidates' sites are, without parsing JSON once per row in SQL)
    flags = (
        select(
            case((ready, 1), else_=0).label("ready"),
            case((ahead, 1), else_=0).label("ahead"),
            (case((W.id.in_(refusing), 1), else_=0) if refusing else literal(0)).label("refused"),
            CANDIDATE_COLUMNS[4].label("sites"),
        )
        .where(*where)
        .subquery()
    )
    groups = select(
        flags.c.ready,
        flags.c.ahead,
        flags.c.refused,
        flags.c.sites,
        func.count(),
    ).group_by(flags.c.ready, flags.c.ahead, flags.c.refused, flags.c.sites)
    not_ready_ahead = site_ahead = accepting = refused = 0
    counted: list[Any] = list(session.execute(groups))
    for is_ready, is_ahead, has_refused, sites_text, n in counted:
        if not is_ready:
            not_ready_ahead += n if is_ahead else 0
        elif slot.institution_id not in read.sites(sites_text):
            site_ahead += n if is_ahead else 0
        else:
            accepting += n
            refused += n if has_refused else 0

    passed: dict[PassedOver, int] = {}
    if not_ready_ahead:
        passed[PassedOver.NOT_READY] = not_ready_ahead
    if site_ahead:
        passed[PassedOver.SITE] = site_ahead
    if declined_ahead:
        passed[PassedOver.DECLINED] = declined_ahead
    if not picked:
        return Decision(slot, None, Rule.NO_CANDIDATE, passed, 0)
    rule = Rule.ONLY_CANDIDATE if len(picked) == 1 else rule_between(picked[0], picked[1])
    return Decision(
        slot, picked[0][1], rule, passed, accepting - refused, tuple(picked), today.toordinal()
    )
