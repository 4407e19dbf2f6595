"""A record of the demo world loaded into this database (its presence marks the deployment)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class DemoWorld(Base):
    __tablename__ = "demo_world"

    id: Mapped[int] = mapped_column(primary_key=True)
    seed: Mapped[int]
    generator_version: Mapped[str] = mapped_column(String(32))
    loaded_at: Mapped[datetime]
