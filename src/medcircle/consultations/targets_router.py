"""JSON API of the consultation response targets of an agreement."""

from __future__ import annotations

from fastapi import Request

from medcircle.consultations import targets
from medcircle.consultations.targets import TargetsIn, TargetsRead
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])


@router.get("/agreements/{agreement_id}/consult-targets", response_model=TargetsRead)
def read_targets(
    agreement_id: int, request: Request, session: DB, actor: CurrentActor
) -> TargetsRead:
    """The response target per urgency: the agreement's own (`own`) or the platform default."""
    return targets.get_targets(session, actor, settings_of(request), agreement_id).read()


@router.put("/agreements/{agreement_id}/consult-targets", response_model=TargetsRead)
def set_targets(
    agreement_id: int, body: TargetsIn, request: Request, session: DB, actor: CurrentActor
) -> TargetsRead:
    """Set the agreement's targets in minutes (5 to 43,200; emergency <= urgent <= routine,
    else 422 `targets_out_of_order`); null clears one back to the platform default. Applies
    to consultations asked afterwards. 409 `agreement_ended` once the agreement has ended."""
    return targets.set_targets(session, actor, settings_of(request), agreement_id, body).read()
