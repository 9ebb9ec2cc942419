"""ORM tables of routing (``leadgate.routing.store``): per-rep lock rows and the shared round robin.

Tables:
    routing_reps: one row per rep id routing has seen: ``rep_id``, ``assigned`` (leads assigned by
        routing, all time). A routing transaction locks the rows of every rep it may choose
        (``SELECT ... FOR UPDATE``, in ``rep_id`` order) before it reads the reps' loads, so concurrent
        transactions on PostgreSQL never both see room under a cap that only one of them may use.
    routing_rr: the smooth weighted round-robin ``current_weight`` of each rep in each pool
        (``pool``: a territory rule id, or ``otherwise``, with the lead's country for territory pools),
        shared by every process.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.db.models import Base


class RoutingRepRow(Base):
    """A rep's routing lock row (and all-time count of routed leads)."""

    __tablename__ = "routing_reps"
    rep_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    assigned: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class RoutingRoundRobinRow(Base):
    """A rep's smooth weighted round-robin value in one pool."""

    __tablename__ = "routing_rr"
    pool: Mapped[str] = mapped_column(String(160), primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    current_weight: Mapped[float] = mapped_column(Float, nullable=False)
