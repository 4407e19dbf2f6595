"""Imports every table so that ``Base.metadata`` is complete (Alembic, tests)."""

from medcircle.activity import models as activity_models
from medcircle.agreements import models as agreements_models
from medcircle.audit import models as audit_models
from medcircle.auth import models as auth_models
from medcircle.consultations import models as consultations_models
from medcircle.db import Base
from medcircle.demo import models as demo_models
from medcircle.dispatch import models as dispatch_models
from medcircle.notifications import models as notifications_models
from medcircle.patients import models as patients_models
from medcircle.pools import models as pools_models
from medcircle.referrals import models as referrals_models
from medcircle.registry import models as registry_models
from medcircle.tasks import models as tasks_models

__all__ = [
    "Base",
    "activity_models",
    "agreements_models",
    "audit_models",
    "auth_models",
    "consultations_models",
    "demo_models",
    "dispatch_models",
    "notifications_models",
    "patients_models",
    "pools_models",
    "referrals_models",
    "registry_models",
    "tasks_models",
]
