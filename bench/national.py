"""Benchmark: a national deployment from the import to the reminders, through the real code
paths, each figure printed beside its target (issue 20).

1. `bot.py units import` of a generated .xlsx (a Sở, one Phòng per 50 units, schools);
2. `bot.py members import` of a .csv (per school a Telegram reporter, a Zalo reporter,
   the first reporter again as leader, a second Zalo reporter: in that order over the
   schools until `--members` rows);
3. `/giao ... | đơn vị tất cả` through the Dispatcher until the preview is queued;
4. `[Gửi]` through the Dispatcher: every target and reminder planned, announcements queued;
5. the sweep of the first reminder moment (one reminder per target) into the outbox;
6. a `bot.py run` worker on that database against the Telegram emulator: start-up to the
   first update answered, and its resident memory (peak) after a while of sending;
7. a second worker: both send at a configured rate for `--send-seconds` (the emulator
   enforcing it); the rate at the platform, the 429s it answered, duplicates (a row
   arriving twice) and rows recorded as sent that never arrived;
8. the ceiling beside it: two bare python-telegram-bot processes (`bench/bare_sender.py`, no
   database) send at the same configured rate to the same emulator for as long.

Run: .venv/bin/python bench/national.py [--units 50000] [--members 150000]
     [--database sqlite|postgresql] [--rate 1000] [--send-seconds 30]
     .venv/bin/python bench/national.py --units 2000      # the small mode, seconds
PostgreSQL: a fresh database on 127.0.0.1:5432 (created from `test`, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import dataclasses
import gc
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from app import admin  # noqa: E402
from app.bootstrap import Runtime  # noqa: E402
from app.cli import invoke  # noqa: E402
from app.config import Settings  # noqa: E402
from bench.wave import Recorder  # noqa: E402
from core.clock import to_local, utc_now  # noqa: E402
from core.messages import Incoming  # noqa: E402
from storage.models import Outbox, Reminder, Target  # noqa: E402
from testing.emulators.telegram_api import RecordedCall, TelegramEmulator  # noqa: E402

STAFF = "vp_national"
FIRST_CHAT = 10_000_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


class Table:
    """Rows of figures and their targets, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, step: str, figure: str, target: str, met: bool | None) -> None:
        verdict = "—" if met is None else ("met" if met else "MISSED")
        self.rows.append((step, figure, target, verdict))
        print(f"  {step:58} {figure:>24}   target {target:14} {verdict}", flush=True)


def units_xlsx(path: Path, count: int) -> list[str]:
    """The units file; returns the school codes (the units members are attached to).

    Written by XlsxWriter, which records the sheet's size (`<dimension>`) as Excel and
    LibreOffice do. openpyxl's write-only mode leaves it out, and openpyxl then reads a whole
    sheet once more only to look for it (7.7 s of a 50,000-row import's profile)."""
    import xlsxwriter

    rows: list[list[str | None]] = [["Danh sách đơn vị"],
                                    ["mã", "tên", "loại", "đơn vị cấp trên", "nhóm"],
                                    ["SO", "Sở GDĐT", "Sở", None, "so"]]
    districts = max(1, count // 50)
    for d in range(districts):
        rows.append([f"PGD-{d:04d}", f"Phòng GDĐT số {d}", "Phòng GDĐT", "SO", "PGD"])
    schools = []
    for i in range(count - districts - 1):
        kind = ("MN", "TH", "THCS")[i % 3]
        code = f"{kind}-{i:05d}"
        schools.append(code)
        rows.append([code, f"Trường {kind} số {i}", kind, f"PGD-{i % districts:04d}",
                     f"{kind};huyen-{i % districts}"])
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    book.close()
    return schools


def members_csv(path: Path, count: int, schools: list[str]) -> list[int]:
    """The members file; returns the Telegram chat ids of the reporters."""
    lines = ["họ tên,kênh,mã người dùng,vai trò,đơn vị"]
    chats = []
    for i in range(count):
        school, kind = i % len(schools), i // len(schools)
        code = schools[school]
        if kind == 0:
            chats.append(FIRST_CHAT + school)
            lines.append(f"Nguyễn Văn Hiệu trưởng {school},telegram,{FIRST_CHAT + school},"
                         f"reporter,{code}")
        elif kind == 1:
            lines.append(f"Trần Thị Phó hiệu trưởng {school},zalo,z{school},đầu mối,{code}")
        elif kind == 2:
            lines.append(f"Nguyễn Văn Hiệu trưởng {school},telegram,{FIRST_CHAT + school},"
                         f"lãnh đạo,{code}")
        elif kind == 3:
            lines.append(f"Lê Văn Văn thư {school},zalo,v{school},reporter,{code}")
        else:
            raise SystemExit(f"at most {4 * len(schools):,} members for {len(schools):,} "
                             "schools")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return chats


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database of `kind`; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'national.sqlite3'}"
        return
    name = f"bench_national_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def timed(table: Table, step: str, target_s: float, seconds: float) -> None:
    table.add(step, f"{seconds:.2f} s", f"< {target_s:g} s", seconds < target_s)


async def console_round(runtime: Runtime, console: Recorder, event: Incoming) -> float:
    """Handle `event` and send the console replies it queued; returns the seconds taken."""
    started = time.perf_counter()
    now = utc_now()
    await runtime.dispatcher.handle(event, now)
    await runtime.sender({"console": console}).drain(now)
    return time.perf_counter() - started


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (`/proc/PID/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the machine so far (`/proc/stat`)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def imports(args: argparse.Namespace, folder: Path, url: str, table: Table) -> list[int]:
    """Steps 1 and 2 through the command line (which runs its own event loop); returns the
    reporters' Telegram chat ids."""
    settings = dataclasses.replace(Settings(), database_url=url, files_dir=folder / "files")
    now = utc_now()
    # 1. units
    schools = units_xlsx(folder / "units.xlsx", args.units)
    started = time.perf_counter()
    code, out = invoke(["units", "import", str(folder / "units.xlsx")], settings, folder, now)
    assert code == 0, out
    timed(table, f"import {args.units:,} units (.xlsx)", 30 * args.units / 50_000,
          time.perf_counter() - started)
    # 2. members
    chats = members_csv(folder / "members.csv", args.members, schools)
    started = time.perf_counter()
    code, out = invoke(["members", "import", str(folder / "members.csv")], settings, folder,
                       now)
    assert code == 0, out
    timed(table, f"import {args.members:,} members (.csv)", 60 * args.members / 150_000,
          time.perf_counter() - started)
    return chats


async def bench(args: argparse.Namespace, folder: Path, url: str, chats: list[int],
                table: Table) -> None:
    settings = dataclasses.replace(Settings(), database_url=url, files_dir=folder / "files")
    now = utc_now()
    runtime = await Runtime.open(settings)
    try:
        async with runtime.sessions() as session, session.begin():
            await admin.add_member(session, STAFF, "console", "staff", now, unit_code="SO")
        # 3. /giao preview
        console = Recorder()
        deadline = to_local(now + timedelta(days=10))
        seconds = await console_round(runtime, console, Incoming(
            "console", STAFF, STAFF,
            text=f"/giao Báo cáo quốc gia | hạn {deadline:%d/%m/%Y} | đơn vị tất cả"))
        preview = console.sent[-1].text
        assert "Xin xác nhận" in preview, preview
        timed(table, f"/giao to all {args.units:,} units: preview shown", 2, seconds)
        # 4. [Gửi]
        profile = _profiler(args, "send")
        seconds = await console_round(runtime, console, Incoming(
            "console", STAFF, STAFF, button="g:send",
            button_message_id=str(len(console.sent))))
        _report(profile)
        assert "#1" in console.sent[-1].text, console.sent[-1].text
        async with runtime.sessions() as session:
            targets = (await session.exec(select(func.count()).select_from(Target))).one()
            planned = (await session.exec(select(func.count()).select_from(Reminder))).one()
            queued = (await session.exec(select(func.count()).select_from(Outbox).where(
                col(Outbox.target_id).is_not(None)))).one()
            first = (await session.exec(select(func.min(Reminder.due_at)))).one()
        timed(table, f"[Gửi]: {targets:,} targets, {planned:,} reminders, {queued:,} sent",
              10, seconds)
        # 5. sweep of the first reminder moment
        profile = _profiler(args, "sweep")
        started = time.perf_counter()
        swept = await runtime.dispatcher.sweep(first)
        seconds = time.perf_counter() - started
        _report(profile)
        async with runtime.sessions() as session:
            rows = (await session.exec(select(func.count()).select_from(Outbox).where(
                col(Outbox.reminder_id).is_not(None)))).one()
        rate = rows / seconds if seconds else 0.0
        table.add(f"sweep: {swept:,} reminders -> {rows:,} outbox rows in {seconds:.1f} s",
                  f"{rate:,.0f} rows/s", "≥ 2,000 rows/s", rate >= 2000)
    finally:
        await runtime.close()
    if args.no_workers:
        table.add("worker: start-up, memory, sending", "not measured", "", None)
        return
    await workers(args, folder, url, chats, table)


def config(folder: Path, url: str, emulator: TelegramEmulator, rate: int) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[bot]\nsecret_key = "{"s" * 32}"\n'
        f'[database]\nurl = "{url}"\n[files]\ndir = "{folder / "files"}"\n'
        f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"\n'
        f'base_file_url = "{emulator.base_file_url}"\nmessages_per_second = {rate}\n',
        encoding="utf-8")
    return path


def compiled() -> None:
    """The bot's modules compiled into __pycache__, as after a deployed bot's first start."""
    for package in ("app", "channels", "core", "handlers", "reports", "scheduler", "services",
                    "storage"):
        compileall.compile_dir(ROOT / package, quiet=1)
    compileall.compile_file(ROOT / "bot.py", quiet=1)


async def start_worker(folder: Path, path: Path, name: str) -> asyncio.subprocess.Process:
    # A deployed bot reads its compiled modules from __pycache__ (`compiled` below):
    # compiling them again at every start (PYTHONDONTWRITEBYTECODE) adds about 0.2 s to it.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BOT_") and k != "PYTHONDONTWRITEBYTECODE"}
    with (folder / f"{name}.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bot.py"), "--config", str(path), "run", cwd=ROOT,
            env=env, stdout=log, stderr=log)


async def workers(args: argparse.Namespace, folder: Path, url: str, chats: list[int],
                  table: Table) -> None:
    # The emulator plays Telegram's servers in this process, whose heap holds the steps
    # before: its collector's full passes paused it for 100-300 ms, and the calls it then
    # read at once crowded its sliding second (429s that no real platform would send).
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        await _workers(args, folder, url, chats, table)
    finally:
        gc.enable()
        gc.unfreeze()


async def _workers(args: argparse.Namespace, folder: Path, url: str, chats: list[int],
                   table: Table) -> None:
    emulator = TelegramEmulator()
    await emulator.start()
    emulator.enforce_limits(per_chat_per_s=1, global_per_s=args.rate, per_group_per_min=20)
    for chat in chats:
        emulator.add_user(chat, "HT")
    asker = chats[0]
    path = config(folder, url, emulator, args.rate)
    processes = []
    compiled()
    try:
        started, started_wall = time.perf_counter(), time.time()  # the emulator's clock
        processes.append(await start_worker(folder, path, "one"))
        await emulator.inject_text(asker, "/trogiup")
        handled = answered = None
        settings = dataclasses.replace(Settings(), database_url=url, files_dir=folder / "files")
        runtime = await Runtime.open(settings, migrate=False)
        try:
            while time.perf_counter() - started < 120 and answered is None:
                if handled is None:
                    async with runtime.sessions() as session:
                        if (await session.exec(select(Outbox.id).where(
                                Outbox.chat_id == str(asker), Outbox.priority == 0))).first():
                            handled = time.perf_counter() - started
                if any(_answer(c, asker) for c in emulator.calls):
                    answered = time.perf_counter() - started
                await asyncio.sleep(0.05)
        finally:
            await runtime.close()
        if handled is None and answered is not None:
            # Committed and sent between two looks at the outbox (the handling process sends
            # its replies at once): the time at the platform bounds it from above.
            handled = answered
        # From the call's own time: a look between two others would miss a first poll that
        # came, and was answered, while the outbox was being read.
        first_poll = next((c for c in emulator.calls if c.method == "getUpdates"), None)
        polling = first_poll.time - started_wall if first_poll is not None else None

        def seconds(value: float | None) -> str:
            return f"{value:.2f} s" if value is not None else "not in 120 s"

        table.add("bot.py run: start-up to polling (first getUpdates)", seconds(polling), "", None)
        table.add("bot.py run: start-up to the first update handled (reply queued)",
                  seconds(handled), "< 2 s", handled is not None and handled < 2)
        table.add("  ... and to that reply at the platform", seconds(answered), "", None)
        processes.append(await start_worker(folder, path, "two"))
        mark = len(emulator.calls)
        # Where the CPU goes while both send, once the second has started (a few seconds).
        settle = min(5.0, args.send_seconds / 3)
        await asyncio.sleep(settle)
        before = ([cpu_seconds(p.pid) for p in processes], machine_ticks(), len(emulator.calls))
        await asyncio.sleep(args.send_seconds - settle)
        after = ([cpu_seconds(p.pid) for p in processes], machine_ticks(), len(emulator.calls))
        peak = max(rss_peak_mb(p.pid) for p in processes)
        table.add("resident memory of a worker (peak, registry loaded, sending)",
                  f"{peak:.0f} MB", "< 200 MB", peak < 200)
        for process in processes:
            process.terminate()
        for process in processes:  # a worker sends what it claimed, then stops
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        refused = emulator.rejected_429
        sample = next(c for c in reversed(emulator.calls) if c.method == "sendMessage" and c.ok)
        ceiling = await bare_senders(args, folder, emulator, chats, sample)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await emulator.stop()
    sends = [c for c in emulator.calls[mark:] if c.method == "sendMessage" and c.ok
             and not str(c.params.get("text", "")).startswith(BARE)]
    times = sorted(c.time for c in sends)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span else 0.0
    arrived = Counter((str(c.params.get("chat_id")), c.params.get("text")) for c in
                      emulator.calls if c.method == "sendMessage" and c.ok
                      and not str(c.params.get("text", "")).startswith(BARE))
    duplicates = sum(arrived.values()) - len(arrived)
    settings = dataclasses.replace(Settings(), database_url=url, files_dir=folder / "files")
    runtime = await Runtime.open(settings, migrate=False)
    try:
        async with runtime.sessions() as session:
            recorded = (await session.exec(select(func.count()).select_from(Outbox).where(
                Outbox.channel == "telegram", col(Outbox.sent_at).is_not(None)))).one()
    finally:
        await runtime.close()
    lost = max(0, recorded - sum(arrived.values()))
    table.add(f"sending, 2 workers, {len(sends):,} messages in {args.send_seconds} s",
              f"{rate:,.0f}/s = {rate / args.rate:.0%}", f"≥ 90 % of {args.rate}/s",
              rate >= 0.9 * args.rate)
    table.add("  ceiling: 2 bare python-telegram-bot senders, same emulator and limit",
              f"{ceiling:,.0f}/s = {ceiling / args.rate:.0%}", "", None)
    if ceiling:
        table.add("  the workers' rate as a share of that ceiling", f"{rate / ceiling:.0%}",
                  "", None)
    sent_then = sum(1 for c in emulator.calls[before[2]:after[2]]
                    if c.method == "sendMessage" and c.ok)
    workers_cpu = [b - a for a, b in zip(before[0], after[0], strict=True)]
    busy = (after[1][0] - before[1][0]) / max(1, after[1][1] - before[1][1])
    shares = "+".join(f"{c / (args.send_seconds - settle):.0%}" for c in workers_cpu)
    per_message = (f"{sum(workers_cpu) * 1000 / sent_then:.2f} ms ({shares})" if sent_then
                   else "— (the wave ended first)")
    table.add("  workers' CPU per message (each worker's share of a core)", per_message, "",
              None)
    table.add("  the machine's cores busy meanwhile", f"{busy:.0%}", "", None)
    table.add("  429 answers to the workers", f"{refused}", "0", refused == 0)
    table.add("  duplicates / lost (recorded as sent, never arrived)",
              f"{duplicates} / {lost}", "0 / 0", duplicates == 0 and lost == 0)


BARE = "bare "  # the text of the ceiling's messages starts so


async def bare_senders(args: argparse.Namespace, folder: Path, emulator: TelegramEmulator,
                       chats: list[int], sample: RecordedCall) -> float:
    """The sending ceiling of this machine: two bare python-telegram-bot processes
    (`bench/bare_sender.py`), each at half the configured rate, for as long as the workers
    sent, each message of the shape of `sample` (the workers' last: its text, format and
    buttons, which the emulator parses and stores as it would the bot's); returns the rate
    the platform accepted from them together (per second)."""
    files = []
    for half in (0, 1):
        path = folder / f"bare-chats-{half}.txt"
        path.write_text("\n".join(str(c) for c in chats[half::2]), encoding="utf-8")
        files.append(path)
    shape = folder / "bare-message.json"
    shape.write_text(json.dumps({key: sample.params[key] for key in
                                 ("text", "parse_mode", "reply_markup") if key in sample.params},
                                ensure_ascii=False), encoding="utf-8")
    mark = len(emulator.calls)
    senders = [await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "bare_sender.py"), emulator.base_url,
        emulator.token, str(args.rate / 2), str(args.send_seconds), str(path), str(shape),
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL) for path in files]
    for sender in senders:
        await sender.wait()
    times = sorted(c.time for c in emulator.calls[mark:] if c.method == "sendMessage" and c.ok
                   and str(c.params.get("text", "")).startswith(BARE))
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span else 0.0


def _answer(call, chat: int) -> bool:  # noqa: ANN001
    """The bot's answer to the question of `chat` (not the task or a reminder queued)."""
    text = str(call.params.get("text", ""))
    return (call.method == "sendMessage" and call.ok and str(call.params.get("chat_id")) ==
            str(chat) and not text.startswith(("📋", "⏰", "⚠️")))


def _profiler(args: argparse.Namespace, step: str):  # noqa: ANN202
    """A running cProfile when `--profile` names `step`."""
    if args.profile != step:
        return None
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    return profile


def _report(profile) -> None:  # noqa: ANN001
    if profile is None:
        return
    import pstats

    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    pstats.Stats(profile).sort_stats("cumulative").print_stats(50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--members", type=int)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=int, default=1000, help="configured messages/s")
    parser.add_argument("--send-seconds", type=int, default=30)
    parser.add_argument("--profile", choices=("send", "sweep"),
                        help="print a cProfile of that step")
    parser.add_argument("--no-workers", action="store_true",
                        help="skip the bot.py run steps (start-up, memory, sending)")
    args = parser.parse_args()
    if args.members is None:
        args.members = args.units * 3
    load = os.getloadavg()
    print(f"{args.database}: {args.units:,} units, {args.members:,} members; load "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    table = Table()

    with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
        chats = imports(args, Path(tmp), url, table)
        asyncio.run(bench(args, Path(tmp), url, chats, table))


if __name__ == "__main__":
    main()
