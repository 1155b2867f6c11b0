"""Benchmark: the plan extractor (`core.plan.extract_duties`) against its answer key.

For every seed plan of the key (tests/data/plan_key.json) found in DIR it prints the duties
expected and found, precision and recall of the duties (a found duty is right when its source
passage holds the key's words, in document order), and among the duties found right the
share with the right deadline (date and recurrence) and with the right audience (kinds, names
and "trực thuộc"); then the same overall, the duties missed and the ones found beyond the
key, and the time to read a 30-page plan made of the seeds end to end.

Run: .venv/bin/python bench/plan_extract.py [DIR] [--key FILE]   (DIR: tests/data/seeds)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clock import LOCAL_TZ  # noqa: E402
from core.plan import Duty, extract_duties  # noqa: E402
from core.text import fold  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "data" / "seeds"
KEY = ROOT / "tests" / "data" / "plan_key.json"
PAGE = 3_000  # characters of a printed page of such a plan
PAGES = 30


@dataclass
class Score:
    """Figures of one seed, or of several added together."""

    name: str
    expected: int = 0
    found: int = 0
    matched: int = 0
    deadline_right: int = 0
    audience_right: int = 0
    seconds: float = 0.0
    missed: list[str] = field(default_factory=list)  # the key's words of duties not found
    extra: list[str] = field(default_factory=list)  # titles of duties found beyond the key
    wrong: list[str] = field(default_factory=list)  # what is wrong in a duty found right

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else float(self.expected == 0)

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def deadlines(self) -> float:
        return self.deadline_right / self.matched if self.matched else 1.0

    @property
    def audiences(self) -> float:
        return self.audience_right / self.matched if self.matched else 1.0

    def add(self, other: Score) -> None:
        for name in ("expected", "found", "matched", "deadline_right", "audience_right",
                     "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def load_key(path: Path = KEY) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["seeds"]


def now_of(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["now"]).astimezone(LOCAL_TZ)


def deadline_problem(duty: Duty, expected: dict[str, Any]) -> str:
    """"" when the duty's deadline is the key's, else what differs."""
    day = duty.due.astimezone(LOCAL_TZ).date() if duty.due is not None else None
    want = date.fromisoformat(expected["deadline"]) if expected["deadline"] else None
    rule = duty.recurrence.to_rule() if duty.recurrence is not None else None
    if day != want or rule != expected["recurrence"]:
        return f"deadline {day} {rule} ({duty.deadline_text!r}), expected {want} " \
               f"{expected['recurrence']}"
    return ""


def audience_problem(duty: Duty, expected: dict[str, Any]) -> str:
    """"" when the duty's audience is the key's, else what differs."""
    want = expected["audience"]
    got = duty.audience
    if set(got.kinds) == set(want["kinds"]) and got.below == want["below"] and \
            {fold(n) for n in got.names} == {fold(n) for n in want["names"]}:
        return ""
    return f"audience kinds {list(got.kinds)} names {list(got.names)} below {got.below}, " \
           f"expected {want['kinds']} {want['names']} {want['below']}"


def score_duties(name: str, duties: list[Duty], expected: list[dict[str, Any]]) -> Score:
    """Match the duties found to the key's in document order: a found duty takes the next
    duty of the key whose words its source holds."""
    score = Score(name, expected=len(expected), found=len(duties))
    taken = [False] * len(expected)
    position = 0
    for duty in duties:
        source = fold(duty.source)
        index = next((i for i in range(position, len(expected))
                      if not taken[i] and fold(expected[i]["find"]) in source), None)
        if index is None:
            score.extra.append(duty.title)
            continue
        taken[index] = True
        position = index + 1
        score.matched += 1
        problems = [deadline_problem(duty, expected[index]), audience_problem(duty,
                                                                              expected[index])]
        score.deadline_right += not problems[0]
        score.audience_right += not problems[1]
        score.wrong += [f"«{expected[index]['find'][:50]}»: {p}" for p in problems if p]
    score.missed = [e["find"] for e, done in zip(expected, taken, strict=True) if not done]
    return score


def score_seed(path: Path, entry: dict[str, Any]) -> Score:
    text = path.read_text(encoding="utf-8")
    start = time.perf_counter()
    duties = extract_duties(text, now=now_of(entry))
    elapsed = time.perf_counter() - start
    score = score_duties(path.name, duties, entry["duties"])
    score.seconds = elapsed
    return score


def score_all(directory: Path = SEEDS, key_path: Path = KEY) -> tuple[list[Score], Score]:
    """The score of every seed of the key found in `directory`, and the overall one."""
    key = load_key(key_path)
    scores = [score_seed(directory / name, entry) for name, entry in key.items()
              if (directory / name).exists()]
    total = Score("overall")
    for score in scores:
        total.add(score)
    return scores, total


def thirty_pages(directory: Path = SEEDS) -> str:
    texts = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.txt"))]
    if not texts:
        return ""
    plan = ""
    while len(plan) < PAGES * PAGE:
        plan += "\n".join(texts) + "\n"
    return plan


def percent(value: float) -> str:
    return f"{value * 100:5.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", type=Path, default=SEEDS)
    parser.add_argument("--key", type=Path, default=KEY)
    args = parser.parse_args()
    scores, total = score_all(args.dir, args.key)
    if not scores:
        sys.exit(f"no seed of {args.key} in {args.dir}")
    print(f"{'seed':28} {'key':>4} {'found':>5} {'right':>5} {'precision':>9} {'recall':>7} "
          f"{'deadline':>8} {'audience':>8} {'ms':>6}")
    for score in [*scores, total]:
        print(f"{score.name:28} {score.expected:4} {score.found:5} {score.matched:5} "
              f"{percent(score.precision):>9} {percent(score.recall):>7} "
              f"{percent(score.deadlines):>8} {percent(score.audiences):>8} "
              f"{score.seconds * 1000:6.1f}")
    for score in scores:
        for words in score.missed:
            print(f"  {score.name}: missed «{words}»")
        for title in score.extra:
            print(f"  {score.name}: not in the key «{title}»")
        for problem in score.wrong:
            print(f"  {score.name}: {problem}")
    others = sorted(p.name for p in args.dir.glob("*.txt") if p.name not in load_key(args.key))
    if others:
        print(f"  not in the key (not scored): {', '.join(others)}")
    plan = thirty_pages(args.dir)
    now = datetime(2023, 4, 20, 9, 0, tzinfo=LOCAL_TZ)
    start = time.perf_counter()
    duties = extract_duties(plan, now=now)
    elapsed = time.perf_counter() - start
    print(f"a {PAGES}-page plan ({len(plan):,} characters, {len(duties)} duties): "
          f"{elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    main()
