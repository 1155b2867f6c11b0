"""Who may do what. Roles: admin, staff (assigns), leader (follows progress), reporter."""

from __future__ import annotations

from collections.abc import Iterable

ROLES = ("admin", "staff", "leader", "reporter")
CHANNELS = ("console", "telegram", "zalo")


def can_assign(roles: Iterable[str]) -> bool:
    return bool({"admin", "staff"} & set(roles))


def can_see_all_progress(roles: Iterable[str]) -> bool:
    return bool({"admin", "staff", "leader"} & set(roles))


def can_decide_extensions(roles: Iterable[str]) -> bool:
    return can_assign(roles)


def can_excuse(roles: Iterable[str]) -> bool:
    """Excusing a unit from a task, or taking the excuse back, is the office's decision."""
    return can_assign(roles)


# The commands each role uses, in the order a command menu shows them. Admins assign too.
_MENU_ORDER = ("giao", "sua", "kehoach", "giaotiep", "nhac", "giahan", "mien", "dong", "mo",
               "huy", "tiendo", "tainop", "nhatky", "moi", "viec", "help", "ngonngu")
_ROLE_MENUS = {
    "admin": {"giao", "sua", "kehoach", "giaotiep", "nhac", "giahan", "mien", "dong", "mo",
              "huy", "tiendo", "tainop", "nhatky", "moi"},
    "staff": {"giao", "sua", "kehoach", "giaotiep", "nhac", "giahan", "mien", "dong", "mo",
              "huy", "tiendo", "tainop", "nhatky", "moi"},
    "leader": {"tiendo", "tainop"},
    "reporter": {"viec", "tiendo"},
}
GROUP_MENU = ("tiendo", "help")
DEFAULT_MENU_ROLES = frozenset({"reporter"})  # most people who open the bot are reporters


def menu_commands(roles: Iterable[str]) -> tuple[str, ...]:
    """The commands a member with `roles` sees in their command menu."""
    names = {"help", "ngonngu"}
    for role in roles:
        names |= _ROLE_MENUS.get(role, set())
    return tuple(name for name in _MENU_ORDER if name in names)


# Invite codes: 8 characters without 0/O and 1/I, since they are typed by hand from paper.
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 8


def invite_link(bot_username: str, code: str) -> str:
    """The Telegram deep link that joins with `code`, or "" when the bot's username is not
    configured."""
    return f"https://t.me/{bot_username}?start={code}" if bot_username else ""


def invite_code(text: str) -> str | None:
    """The invite code in `text` as people type it (`jbmf-l3hu`, `JBMF L3HU`), or None."""
    code = "".join(text.split()).replace("-", "").replace(".", "").upper()
    if len(code) == INVITE_LENGTH and all(c in INVITE_ALPHABET for c in code):
        return code
    return None
