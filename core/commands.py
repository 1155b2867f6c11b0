"""Commands as people type them: `/tiendo #1`, `/tien do`, `/tiến độ`, `/tiendô`, `/tiendo#1`,
`/tiendo@baocao_bot`, `tiến độ` without the slash, English names (`/progress`), and a
suggestion for a near miss (`/tiendp` → `/tiendo`). Pure: the known names come from the
caller."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from core.text import fold

# English names for the commands (and a few Vietnamese ones written another way).
ALIASES = {
    "progress": "tiendo", "assign": "giao", "cancel": "huy", "remind": "nhac",
    "nudge": "nhac", "tasks": "viec", "files": "tainop", "language": "ngonngu",
    "excuse": "mien", "extend": "giahan", "close": "dong", "reopen": "mo",
    "handdown": "giaotiep", "log": "nhatky", "invite": "moi", "plan": "kehoach", "edit": "sua",
    "trogiup": "help",
}
# Commands understood without the slash when they are the whole message (or are followed by a
# task number): words that a reporter's answer does not start with.
BARE = ("tiendo", "viec", "help", "trogiup", "tainop", "nhatky", "progress")
MAX_WORDS = 3  # `/tien do` is two words; a command name is never more than three
SUGGEST_SCORE = 75


@dataclass(frozen=True)
class Command:
    name: str
    args: str


@dataclass(frozen=True)
class Suggestion:
    typed: str  # what the user wrote as the name
    name: str  # the known command it is probably meant as
    args: str


def parse(text: str, known: Iterable[str]) -> Command | Suggestion | None:
    """The command in `text`, a suggestion for a near miss, or None (not a command)."""
    names = set(known)
    stripped = unicodedata.normalize("NFC", text).strip()  # arguments are kept in NFC
    slash = stripped.startswith("/")
    body = stripped[1:] if slash else stripped
    if slash and not body:
        return None
    # `/tiendo#1`, `/tiendo@bot`: the name ends at `#`, `@` or a digit run after letters.
    head = re.match(r"([^\s#@\d]+(?:\s+[^\s#@\d]+){0,2})", body)
    if head is None:
        return Suggestion(body.split()[0], "", "") if slash and body.split() else None
    words = head.group(1).split()
    for count in range(len(words), 0, -1):
        typed = "".join(fold(w) for w in words[:count])
        name = ALIASES.get(typed, typed)
        if name not in names:
            continue
        rest = body[_end_of_words(body, count):]
        if rest.startswith("@"):  # `/giao@baocao_bot ...` in groups
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        args = rest.strip()
        if not slash and (name not in BARE or (args and not args.startswith("#"))):
            return None
        return Command(name, args)
    if not slash:
        return None
    typed = fold(words[0])
    rest = body[_end_of_words(body, 1):].strip()
    best = process.extractOne(typed, sorted(names | set(ALIASES)), scorer=fuzz.ratio,
                              score_cutoff=SUGGEST_SCORE)
    if best is None:
        return Suggestion(typed, "", rest)
    return Suggestion(typed, ALIASES.get(best[0], best[0]), rest)


def _end_of_words(body: str, count: int) -> int:
    """The index in `body` just after its first `count` words (a word stops at `#`/`@`)."""
    position = 0
    for _ in range(count):
        match = re.compile(r"\s*[^\s#@\d]+").match(body, position)
        if match is None:
            break
        position = match.end()
    return position
