"""Excuse and extension requests, and the targets that `/mien` and `/giahan` decide on."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from core.states import RequestState, TargetState
from storage.models import ExcuseRequest, ExtensionRequest, Target


async def pending_excuse(session: AsyncSession, target_id: int | None) -> ExcuseRequest | None:
    """The target's excuse request still waiting for a decision, if any."""
    return (await session.exec(select(ExcuseRequest).where(
        ExcuseRequest.target_id == target_id,
        ExcuseRequest.state == RequestState.PENDING))).first()


async def pending_extension(session: AsyncSession, target_id: int | None
                            ) -> ExtensionRequest | None:
    """The target's extension request still waiting for a decision, if any."""
    return (await session.exec(select(ExtensionRequest).where(
        ExtensionRequest.target_id == target_id,
        ExtensionRequest.state == RequestState.PENDING))).first()


def current_targets_of_units(assignment_id: int | None, period: str,
                             unit_ids: list[int | None]) -> SelectOfScalar[Target]:
    """The query of the task's targets of `period` for `unit_ids`, but those taken off the
    task, for `services.targets.lock_all`."""
    return select(Target).where(Target.assignment_id == assignment_id, Target.period == period,
                                Target.state != TargetState.REMOVED,
                                col(Target.unit_id).in_(unit_ids))
