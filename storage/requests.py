"""Excuse and extension requests waiting for a decision."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.states import RequestState
from storage.models import ExcuseRequest, ExtensionRequest


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

