"""Invite codes: one per unit, created by the admin command line (`bot.py invites ...`) or
by staff in chat (`/moi`), for units the caller has already resolved within their scope."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from core.roles import INVITE_ALPHABET, INVITE_LENGTH
from storage.models import Invite, Unit

DEFAULT_LIFETIME = timedelta(days=30)
DEFAULT_USES = 5  # a principal, a deputy, a clerk... may join with one code


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def create_invites(session: AsyncSession, units: list[Unit], role: str, now: datetime,
                   expires: timedelta | None = DEFAULT_LIFETIME, uses: int = DEFAULT_USES
                   ) -> list[tuple[Unit, Invite]]:
    """A fresh invite for each of `units` (added to the session, not yet flushed)."""
    result = []
    for unit in units:
        assert unit.id is not None
        invite = Invite(code=new_invite_code(), unit_id=unit.id, role=role, uses_left=uses,
                        expires_at=now + expires if expires else None, created_at=now)
        session.add(invite)
        result.append((unit, invite))
    return result
