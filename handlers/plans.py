"""The duties of a plan read by `/kehoach` (`PlanDraft`), as buttons: shown with the list, and
again under each confirmation or cancellation of a duty's `/giao` draft, so that the next duty
is one press away (on Zalo only the latest choices can be answered)."""

from __future__ import annotations

import json
from datetime import datetime

from core.callbacks import PlanDuty
from core.i18n import Translator
from core.messages import Button
from handlers.context import Context
from storage.models import PlanDraft, ident


def button_label(t: Translator, number: int, row: dict) -> str:
    """`1 · 08/05/2023`, `3 · chưa có hạn`."""
    if not row["due"]:
        return t("{n} · chưa có hạn", n=number)
    return f"{number} · {t.date(datetime.fromisoformat(row['due']))}"


def duty_buttons(t: Translator, plan: PlanDraft, only_open: bool = False) -> list[Button]:
    rows, sent = json.loads(plan.duties), json.loads(plan.sent)
    return [Button(button_label(t, i, row), PlanDuty(ident(plan), i).pack())
            for i, row in enumerate(rows, 1) if not (only_open and str(i) in sent)]


async def rest_of_plan(ctx: Context, plan_id: int, sent_duty: int | None = None,
                       number: int | None = None) -> tuple[str, list[Button]]:
    """Record that `sent_duty` became task #number (when given), then the line and buttons
    of the plan's duties not given yet ("", [] when none is left)."""
    plan = await ctx.session.get(PlanDraft, plan_id)
    if plan is None:
        return "", []
    if sent_duty is not None:
        sent = json.loads(plan.sent)
        sent[str(sent_duty)] = number
        plan.sent = json.dumps(sent)
        ctx.session.add(plan)
    buttons = duty_buttons(ctx.t, plan, only_open=True)
    if not buttons:
        return "", []
    return ctx.t("Các việc còn lại trong «{name}»:", name=plan.name), buttons
