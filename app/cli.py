"""The command line: `bot.py run`, `bot.py console`, and the admin commands. The same
commands run inside `.chat` transcripts as `@admin ...` lines."""

from __future__ import annotations

import asyncio
import errno
import gc
import io
import os
import secrets
import signal
import sqlite3
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from sqlalchemy.engine import make_url
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import admin
from app.bootstrap import Runtime
from app.config import ConfigError, Settings, check_for_channels, load_settings
from core.clock import to_local, utc_now
from core.durations import parse_duration
from core.roles import invite_link
from storage import db
from storage.models import Member, Membership, Unit, UnitGroup

T = TypeVar("T")

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Reporting bot: assigns tasks to units and chases their reports.")
units_cli = typer.Typer(help="Units (schools, offices) and their groups.", no_args_is_help=True)
members_cli = typer.Typer(help="Members: people on a channel, with roles.", no_args_is_help=True)
invites_cli = typer.Typer(help="Invite codes that let reporters join their unit.",
                          no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(units_cli, name="units")
cli.add_typer(members_cli, name="members")
cli.add_typer(invites_cli, name="invites")
cli.add_typer(db_cli, name="db")


@dataclass
class Env:
    """What a command runs with: settings, where it prints, the working directory for
    relative paths and the current time (virtual inside transcripts)."""

    settings: Settings
    console: Console = field(default_factory=lambda: Console(highlight=False))
    cwd: Path = field(default_factory=Path.cwd)
    now: datetime | None = None

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.cwd / p

    def time(self) -> datetime:
        return self.now or utc_now()

    def echo(self, text: str) -> None:
        """Plain output (tabs kept, no markup), for lines that scripts read."""
        self.console.file.write(text + "\n")
        self.console.file.flush()


def env_of(ctx: typer.Context) -> Env:
    return ctx.find_root().obj


@cli.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="Config file (default: config.toml)")] = None,
) -> None:
    if ctx.obj is None and ctx.invoked_subcommand != "secret":  # `secret` helps fix the file
        try:
            ctx.obj = Env(load_settings(config))
        except ConfigError as exc:
            raise config_failure(exc) from exc


def config_failure(exc: ConfigError) -> typer.Exit:
    """One line on stderr naming the key (no traceback), exit code 2."""
    Console(stderr=True, soft_wrap=True, highlight=False).print(
        f"[red]Configuration error:[/red] {escape(str(exc))}")
    return typer.Exit(2)


def fail(env: Env, message: str) -> typer.Exit:
    env.echo(f"Error: {message}")
    return typer.Exit(1)


def run_async(env: Env, work: Callable[[Runtime], Awaitable[T]], migrate: bool = True) -> T:
    async def runner() -> T:
        try:
            runtime = await Runtime.open(env.settings, migrate=migrate)
        except db.DatabaseUnreachable as exc:
            raise fail(env, f"cannot open the database {exc}; check database.url") from exc
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(runner())


async def in_transaction(runtime: Runtime, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with runtime.sessions() as session, session.begin():
        return await work(session)


# --- db ----------------------------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the database migrations (also done on every start)."""
    env = env_of(ctx)

    async def work(runtime: Runtime) -> None:
        env.echo("Database is up to date.")

    run_async(env, work)


@cli.command()
def backup(ctx: typer.Context, path: str) -> None:
    """Write a consistent copy of the SQLite database to PATH."""
    env = env_of(ctx)
    url = env.settings.database_url
    if not db.is_sqlite(url):
        raise fail(env, "for PostgreSQL use pg_dump, e.g. pg_dump -Fc DBNAME > backup.dump")
    source = make_url(url).database
    if not source or not Path(source).exists():
        raise fail(env, f"the database file {source} does not exist yet")
    target = env.path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    env.echo(f"Backup written to {target}")


# --- units -------------------------------------------------------------------------------


@units_cli.command("import")
def units_import(ctx: typer.Context, file: str) -> None:
    """Import units from a .csv or .xlsx file (columns code,name,kind,parent,groups)."""
    env = env_of(ctx)
    try:
        table = admin.read_table(env.path(file))
        rows = admin.unit_rows(env.path(file), table)
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    if table.note:
        env.echo(f"{file}: {table.note}")

    async def work(runtime: Runtime) -> admin.ImportReport:
        with Progress(console=env.console, transient=True,
                      disable=not env.console.is_terminal) as progress:
            task = progress.add_task("Importing units", total=len(rows))

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done)

            async def imported(session: AsyncSession) -> admin.ImportReport:
                report = await admin.import_units(session, rows, step)
                admin.audit(session, env.time(), "units_import", file=Path(file).name,
                            created=len(report.created), updated=len(report.updated))
                return report

            return await in_transaction(runtime, imported)

    try:
        report = run_async(env, work)
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    for label, group in (("created", report.created), ("updated", report.updated)):
        for row in group:
            env.echo(f"row {row.row}: {label} {row.code} {row.name}")
    env.echo(f"{len(report.created)} created, {len(report.updated)} updated, "
             f"{len(report.unchanged)} unchanged, 0 rejected")


@units_cli.command("list")
def units_list(
    ctx: typer.Context, group: Annotated[str | None, typer.Option(help="Only this group")] = None
) -> None:
    """List units (code, name, kind, parent, groups)."""
    env = env_of(ctx)

    async def work(runtime: Runtime) -> list[tuple[Unit, list[str], str]]:
        async with runtime.sessions() as s:
            units = (
                await admin.units_in_group(s, group) if group
                else list((await s.exec(select(Unit).order_by(col(Unit.code)))).all())
            )
            names: dict[int | None, list[str]] = {}  # by unit id
            for g in (await s.exec(select(UnitGroup))).all():
                names.setdefault(g.unit_id, []).append(g.name)
            codes = {u.id: u.code for u in (await s.exec(select(Unit))).all()}
            return [(u, names.get(u.id, []), codes.get(u.parent_id, "")) for u in units]

    rows = run_async(env, work)
    if not rows:
        env.echo("No units" + (f" in group {group}" if group else "") + ".")
    for unit, groups, parent in rows:
        env.echo(f"{unit.code}\t{unit.name}\t{unit.kind}\t{parent}\t{';'.join(groups)}")


# --- members -----------------------------------------------------------------------------


@members_cli.command("add")
def members_add(
    ctx: typer.Context,
    name: str,
    channel: Annotated[str, typer.Option(help="console, telegram or zalo")] = "console",
    role: Annotated[str, typer.Option(help="admin, staff, leader or reporter")] = "reporter",
    id: Annotated[str | None, typer.Option("--id", help="The user's id on the channel")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit code")] = None,
    language: Annotated[str, typer.Option(help="vi or en")] = "vi",
) -> None:
    """Add a member, or give an existing one another role or unit."""
    env = env_of(ctx)
    if language not in ("vi", "en"):
        raise fail(env, f"unknown language {language!r}: expected vi or en")

    async def work(runtime: Runtime) -> tuple[Member, bool]:
        return await in_transaction(runtime, lambda s: admin.add_member(
            s, name, channel, role, env.time(), id, unit, language))

    try:
        member, created = run_async(env, work)
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    where = f" of {unit}" if unit else ""
    verb = "Added" if created else "Updated"
    env.echo(f"{verb} {member.display_name} ({channel}) as {role}{where}")
    if created and channel in ("telegram", "zalo"):  # platforms do not let a bot write first
        invite = f"bot.py invites create --unit {unit}" if unit else "bot.py invites create"
        # On stderr: advice for whoever types the command, not part of what scripts read
        # (nor of a transcript's printout, which must be the same on every channel).
        print(f"Note: {channel.capitalize()} lets a bot write only to people who have "
              f"opened it: ask {member.display_name} to open the bot and send /start, or "
              f"send an invite instead ({invite}).", file=sys.stderr)


@members_cli.command("import")
def members_import(
    ctx: typer.Context,
    file: str,
    language: Annotated[str | None, typer.Option(
        help="vi or en for the new members (default: the bot's)")] = None,
) -> None:
    """Import members from a .csv or .xlsx file (columns name,channel,id,role,unit): the
    checks of `members add` on every row; nothing is written if a row is wrong."""
    from app import member_import

    env = env_of(ctx)
    language = language or env.settings.default_language
    if language not in ("vi", "en"):
        raise fail(env, f"unknown language {language!r}: expected vi or en")
    path = env.path(file)
    stderr = Console(stderr=True)
    with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        reading = bar.add_task(f"Reading {Path(file).name}", total=None)
        try:
            table = admin.read_table(path)
            rows = member_import.member_rows(path, table)
        except admin.AdminError as exc:
            raise fail(env, str(exc)) from exc
        bar.update(reading, total=1, completed=1)
        if table.note:
            env.echo(f"{file}: {table.note}")
        writing = bar.add_task("Importing members", total=len(rows))

        def step(done: int, total: int) -> None:
            bar.update(writing, completed=done, total=total)

        async def imported(session: AsyncSession) -> member_import.MembersReport:
            return await member_import.import_members(session, rows, env.time(), language,
                                                      step, source=path.name)

        try:
            report = run_async(env, lambda r: in_transaction(r, imported))
        except admin.AdminError as exc:
            raise fail(env, str(exc)) from exc
    env.echo(f"{report.rows} rows: {report.added} members added, {report.updated} updated "
             f"with another role or unit, {report.roles} roles given, {report.unchanged} rows "
             "already true, 0 rejected")
    if any(row.channel_key in ("telegram", "zalo") for row in rows) and report.added:
        print("Note: Telegram and Zalo let a bot write only to people who have opened it: ask "
              "the new members to open the bot and send /start (or send them invites: "
              "bot.py invites export).", file=sys.stderr)


@members_cli.command("list")
def members_list(ctx: typer.Context) -> None:
    """List members with their roles and units."""
    env = env_of(ctx)

    async def work(runtime: Runtime) -> list[str]:
        async with runtime.sessions() as s:
            units = {u.id: u.code for u in (await s.exec(select(Unit))).all()}
            lines = []
            for m in (await s.exec(select(Member).order_by(col(Member.id)))).all():
                if m.channel_user_id.startswith("removed:"):
                    continue
                roles = (await s.exec(select(Membership).where(
                    Membership.member_id == m.id).order_by(col(Membership.id)))).all()
                shown = ", ".join(r.role + (
                    f"@{units.get(r.unit_id)}" if r.unit_id else
                    " (whole registry)" if r.role in ("staff", "leader") else "") for r in roles)
                line = f"{m.display_name}\t{m.channel}\t{m.channel_user_id}\t{shown}"
                if m.unreachable_since is not None:  # the platform refuses to deliver
                    since = to_local(m.unreachable_since).strftime("%Y-%m-%d %H:%M")
                    line += f"\tunreachable since {since} ({m.unreachable_reason})"
                lines.append(line)
            return lines

    lines = run_async(env, work)
    for line in lines or ["No members."]:
        env.echo(line)


@members_cli.command("remove")
def members_remove(ctx: typer.Context, name: str) -> None:
    """Remove a member's roles so they no longer receive or do anything."""
    env = env_of(ctx)
    try:
        count = run_async(env, lambda r: in_transaction(
            r, lambda s: admin.remove_member(s, name, env.time())))
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    env.echo(f"Removed {name} ({count} account{'s' if count > 1 else ''}).")


# --- invites -----------------------------------------------------------------------------


def _invite_units(env: Env, session: AsyncSession, unit: str | None, group: str | None):
    async def pick() -> list[Unit]:
        if bool(unit) == bool(group):
            raise admin.AdminError("give either --unit CODE or --group G")
        if unit:
            return [await admin.unit_by_code(session, unit)]
        found = await admin.units_in_group(session, group or "")
        if not found:
            raise admin.AdminError(f"no units in group {group!r}: see `bot.py units list`")
        return found

    return pick()


def _lifetime(env: Env, expires: str) -> Any:
    try:
        return parse_duration(expires)
    except ValueError as exc:
        raise fail(env, f"--expires: expected a duration such as 30d or 12h, got {expires!r}") \
            from exc


@invites_cli.command("create")
def invites_create(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option(help="Unit code")] = None,
    group: Annotated[str | None, typer.Option(help="Every unit of this group")] = None,
    role: Annotated[str, typer.Option(help="Role given on joining")] = "reporter",
    expires: Annotated[str, typer.Option(help="Lifetime such as 30d")] = "30d",
    uses: Annotated[int, typer.Option(help="How many people may join with one code")] = 5,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm an admin invite")] = False,
) -> None:
    """Create invite codes: one per unit."""
    env = env_of(ctx)
    lifetime = _lifetime(env, expires)

    async def work(session: AsyncSession):
        units = await _invite_units(env, session, unit, group)
        return await admin.create_invites(session, units, role, env.time(), lifetime, uses,
                                          confirmed=yes)

    try:
        created = run_async(env, lambda r: in_transaction(r, work))
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    for u, invite in created:
        link = invite_link(env.settings.bot_username, invite.code)
        env.echo(f"{u.code}\t{u.name}\t{invite.code}" + (f"\t{link}" if link else ""))


@invites_cli.command("export")
def invites_export(
    ctx: typer.Context,
    file: str,
    group: Annotated[str | None, typer.Option(help="Every unit of this group")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit code")] = None,
    expires: Annotated[str, typer.Option(help="Lifetime such as 30d")] = "30d",
    pdf: Annotated[str | None, typer.Option(
        help="The invite cards to print (default: FILE with .pdf)")] = None,
    language: Annotated[str | None, typer.Option(help="vi or en (default: the bot's)")] = None,
) -> None:
    """Create one invite per unit and write them to FILE.xlsx (with a QR code per unit) and
    a printable PDF of invite cards."""
    from reports.invite_cards import build_invite_pdf, build_invite_workbook, cards_of

    env = env_of(ctx)
    target = env.path(file)
    if target.suffix.lower() != ".xlsx":
        raise fail(env, f"{file}: expected a file name ending in .xlsx")
    cards_path = env.path(pdf) if pdf else target.with_suffix(".pdf")
    if cards_path.suffix.lower() != ".pdf":
        raise fail(env, f"--pdf {pdf}: expected a file name ending in .pdf")
    language = language or env.settings.default_language
    if language not in ("vi", "en"):
        raise fail(env, f"unknown language {language!r}: expected vi or en")
    lifetime = _lifetime(env, expires)

    async def work(session: AsyncSession):
        units = await _invite_units(env, session, unit, group)
        return await admin.create_invites(session, units, "reporter", env.time(), lifetime, 5)

    try:
        created = run_async(env, lambda r: in_transaction(r, work))
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    from core.i18n import Translator

    t = Translator(language)
    cards = cards_of(created, env.settings.bot_username)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(build_invite_workbook(cards, t))
    cards_path.parent.mkdir(parents=True, exist_ok=True)
    cards_path.write_bytes(build_invite_pdf(cards, t))
    env.echo(f"{len(created)} invites written to {target} and {cards_path} (invite cards to "
             "print)")
    if not env.settings.bot_username:
        print("Note: bot.username is not set, so the cards carry no Telegram link; their QR "
              "codes hold the code alone. Set bot.username in config.toml for t.me links.",
              file=sys.stderr)


# --- running the bot ---------------------------------------------------------------------


def invoke(args: list[str], settings: Settings, cwd: Path, now: datetime) -> tuple[int, str]:
    """Run `bot.py ARGS` in-process (for `@admin` lines); returns (exit code, output)."""
    buffer = io.StringIO()
    env = Env(settings, Console(file=buffer, highlight=False, width=200, soft_wrap=True), cwd,
              now)
    try:
        result: Any = cli(args=args, obj=env, standalone_mode=False, prog_name="bot.py")
        code = result if isinstance(result, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except SystemExit as exc:
        code = int(exc.code or 0)
    except Exception as exc:  # click usage errors and the like
        buffer.write(f"Error: {exc}\n")
        code = 2
    return code, buffer.getvalue()


def admin_runner(settings: Settings):
    """`@admin` lines run the real command line in a worker thread (it has its own loop)."""

    async def run(args: list[str], cwd: Path, now: datetime) -> tuple[int, str]:
        return await asyncio.to_thread(invoke, args, settings, cwd, now)

    return run


@cli.command()
def console(
    ctx: typer.Context,
    script: Annotated[str | None, typer.Option(help="Play a .chat transcript")] = None,
    files: Annotated[str | None, typer.Option(help="Write files the bot sends here")] = None,
    channel: Annotated[str, typer.Option(help="console, telegram or zalo")] = "console",
) -> None:
    """The console channel: a REPL, or `--script FILE.chat` to play a transcript."""
    from app.scratch import isolated_settings
    from channels.console import play_script, repl

    env = env_of(ctx)
    if channel not in ("console", "telegram", "zalo"):
        raise fail(env, f"--channel {channel}: expected console, telegram or zalo")
    if channel != "console" and not script:
        raise fail(env, f"--channel {channel} plays transcripts only: add --script FILE.chat")
    if script:
        path = env.path(script)
        if not path.is_file():
            raise fail(env, f"{script}: file not found")

        async def play(runtime: Runtime) -> int:
            if channel == "telegram":
                from testing.telegram_session import TelegramSession

                return await TelegramSession.play(runtime, path, sys.stdout,
                                                  admin_runner(runtime.settings))
            if channel == "zalo":
                from testing.zalo_session import ZaloSession

                return await ZaloSession.play(runtime, path, sys.stdout,
                                              admin_runner(runtime.settings))
            return await play_script(runtime, path, sys.stdout, admin_runner(runtime.settings),
                                     env.path(files) if files else None)

        with isolated_settings(env.settings) as settings:
            code = run_async(Env(settings, env.console, env.cwd), play)
        raise typer.Exit(code)

    async def interactive(runtime: Runtime) -> int:
        return await repl(runtime, admin_runner(runtime.settings))

    raise typer.Exit(run_async(env, interactive))


@cli.command()
def run(ctx: typer.Context) -> None:
    """Run the configured channels; the console when no token is configured."""
    env = env_of(ctx)
    if not env.settings.telegram.token and not env.settings.zalo.token:
        ctx.invoke(console, ctx=ctx)
        return
    try:
        check_for_channels(env.settings)
    except ConfigError as exc:
        raise config_failure(exc) from exc
    try:
        run_async(env, serve_channels)
    except StartupError as exc:
        raise fail(env, str(exc)) from exc


@cli.command()
def secret() -> None:
    """Print a fresh random value for bot.secret_key (or BOT_SECRET_KEY)."""
    typer.echo(secrets.token_urlsafe(48))


# --- reminders ---------------------------------------------------------------------------

reminders_cli = typer.Typer(help="Planned reminders: list them, pause or resume a task's.",
                            no_args_is_help=True)
cli.add_typer(reminders_cli, name="reminders")


def _when(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


@reminders_cli.command("list")
def reminders_list(
    ctx: typer.Context,
    due: Annotated[str | None, typer.Option(help="Only those due within, e.g. 24h or 3d")] = None,
) -> None:
    """List the reminders that will go out: when, task, unit, recipients, kind."""
    env = env_of(ctx)
    try:
        until = env.time() + parse_duration(due) if due is not None else None
    except ValueError as exc:
        raise fail(env, f"--due: expected a duration such as 24h, 3d or 1d12h, got {due!r}; "
                        "nothing listed") from exc

    async def work(runtime: Runtime) -> list[admin.DueReminder]:
        async with runtime.sessions() as session:
            return await admin.due_reminders(session, until)

    rows = [("when", "task", "unit", "recipients", "kind")] + [
        (_when(r.due_at), f"#{r.number}", r.unit, ", ".join(r.recipients) or "(nobody)", r.kind)
        for r in run_async(env, work)]
    if len(rows) == 1:
        env.echo("No reminders planned" + (f" within {due}." if due else "."))
        return
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        env.echo("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                            row[4]]))


def _pause(ctx: typer.Context, task: str, paused: bool) -> None:
    env = env_of(ctx)

    async def work(session: AsyncSession) -> admin.PauseReport:
        return await admin.set_reminders_paused(session, env.settings, task, paused, env.time())

    try:
        report = run_async(env, lambda r: in_transaction(r, work))
    except admin.AdminError as exc:
        raise fail(env, f"{exc}; nothing changed") from exc
    name = f"#{report.task.number} «{report.task.title}»"
    if not report.changed:
        env.echo(f"Reminders of task {name} are already {'paused' if paused else 'running'}; "
                 "nothing changed.")
    elif paused:
        env.echo(f"Paused the reminders of task {name}: {report.count} planned reminders "
                 "withdrawn. `bot.py reminders resume` plans them again.")
    else:
        env.echo(f"Resumed the reminders of task {name}: {report.count} units re-planned from "
                 f"now; next reminder {_when(report.next_due)}.")


@reminders_cli.command("pause")
def reminders_pause(ctx: typer.Context, task: str) -> None:
    """Stop the reminders (and escalations) of task #N until it is resumed."""
    _pause(ctx, task, True)


@reminders_cli.command("resume")
def reminders_resume(ctx: typer.Context, task: str) -> None:
    """Plan task #N's reminders again from now (missed ones are not sent in a burst)."""
    _pause(ctx, task, False)

@cli.command("audit")
def audit(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option(help="Only this task, e.g. #3")] = None,
    member: Annotated[str | None, typer.Option(help="Only changes made by this member")] = None,
    since: Annotated[str | None, typer.Option(help="Only the last 7d, 24h, ...")] = None,
) -> None:
    """Print the audit log: who changed what, when, and from which channel."""
    env = env_of(ctx)
    try:
        start = env.time() - parse_duration(since) if since is not None else None
    except ValueError as exc:
        raise fail(env, f"--since: expected a duration such as 7d or 24h, got {since!r}") \
            from exc

    async def work(runtime: Runtime) -> list[admin.AuditEntry]:
        async with runtime.sessions() as session:
            return await admin.audit_entries(session, task, member, start)

    try:
        entries = run_async(env, work)
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    if not entries:
        env.echo("No changes recorded" + (f" for task {task}" if task else "") + ".")
    for entry in entries:
        env.echo("\t".join([_when(entry.at), entry.actor, entry.channel or "-", entry.action,
                            f"#{entry.number}" if entry.number is not None else "-",
                            entry.detail]))


# --- Zalo and the web server (upload page, file links, Zalo webhook) ---------------------


class StartupError(Exception):
    """Something the channels need at start is not there; the message names the key."""


def _listen_failure(section: str, key: str, host: str, port: int, exc: OSError) -> StartupError:
    prefix = "webhook_" if key.startswith("webhook_") else ""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"{section}.{key}: {host}:{port} is already in use (another bot "
                            f"process, or another program); stop it or choose another "
                            f"{section}.{key}")
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return StartupError(f"{section}.{prefix}listen: cannot listen on {host}:{port} ({reason}); "
                        f"check {section}.{prefix}listen and {section}.{prefix}port")


def _start_failure(name: str, settings: Settings, exc: Exception) -> StartupError | None:
    """A channel that could not start, as one line naming the key; None if unforeseen."""
    from telegram.error import InvalidToken, NetworkError

    from channels.zalo import ZaloApiError

    channel = getattr(settings, name)
    label, variable = ("Telegram", "BOT_TELEGRAM_TOKEN") if name == "telegram" \
        else ("Zalo", "BOT_ZALO_TOKEN")
    via = f" and {name}.base_url" if channel.base_url else ""
    if isinstance(exc, OSError) and name == "telegram" and channel.mode == "webhook":
        return _listen_failure(name, "webhook_port", channel.webhook_listen,
                               channel.webhook_port, exc)
    if isinstance(exc, InvalidToken) or \
            isinstance(exc, ZaloApiError) and exc.code in (401, 403, 404):
        return StartupError(f"{name}.token: refused by the {label} Bot API; check {name}.token "
                            f"(or {variable}){via}")
    if isinstance(exc, NetworkError | httpx.HTTPError):
        key = f"{name}.base_url" if channel.base_url else name
        return StartupError(f"{key}: cannot reach the {label} Bot API "
                            f"({' '.join(str(exc).split()) or type(exc).__name__}); check the "
                            f"network{via}")
    if isinstance(exc, ZaloApiError):
        return StartupError(f"{name}: the {label} Bot API answered {exc} at start; check "
                            f"{name}.token and {name}.webhook_url")
    return None


def _exit_after(seconds: float) -> threading.Timer:
    """End the process with exit 0 after `seconds` (a stop that takes longer, e.g. a send
    the platform does not answer). Nothing is lost: updates not handled yet are in the
    inbox, messages not confirmed sent in the outbox, and the next start takes them over."""
    def leave() -> None:
        print(f"run.shutdown_seconds: still stopping after {seconds:g} s; exiting now, the next "
              f"start handles what was left", file=sys.stderr, flush=True)
        os._exit(0)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()
    return timer


async def serve_channels(runtime: Runtime, stop: asyncio.Event | None = None) -> None:
    """Run every configured channel and the bot's web server until `stop` is set, sweeping
    reminders every `reminders.sweep_seconds`. What stops a channel from starting (a port in
    use, a token refused) raises StartupError naming the key."""
    from channels.ratelimit import Limits
    from channels.telegram import TelegramAdapter
    from channels.web import WebServer
    from channels.zalo import ZaloAdapter
    from scheduler.service import ReminderScheduler

    settings = runtime.settings
    signals: list[int] = []
    if stop is None:  # `bot.py run`: SIGTERM (systemctl, docker stop) stops it as SIGINT does
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
            signals.append(signum)
    try:  # received files are stored there: find out now rather than at the first file
        settings.files_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"files.dir: cannot create the folder {settings.files_dir} "
                           f"({exc.strerror or exc})") from exc
    # The web server (upload page, file links, Zalo webhook) runs for Zalo, which cannot
    # take documents without it, or when `web.public_url` says how users reach it.
    web = WebServer(runtime) if settings.zalo.token or settings.web.public_url else None
    adapters: dict[str, Any] = {}
    if settings.zalo.token:
        assert web is not None
        zalo = ZaloAdapter(runtime, settings.zalo, web)
        if settings.zalo.mode == "webhook":
            zalo.add_routes(web.app)
        adapters["zalo"] = zalo
    if settings.telegram.token:
        telegram = TelegramAdapter(runtime, settings.telegram)
        if web is not None:
            telegram.upload_links = web
            web.adapters["telegram"] = telegram
        adapters["telegram"] = telegram
    if web is not None:
        try:
            await web.start()
        except OSError as exc:
            raise _listen_failure("web", "port", settings.web.listen, settings.web.port,
                                  exc) from exc
    started: list[Any] = []

    async def send_now() -> None:
        for adapter in adapters.values():
            await adapter.drain()

    runtime.dispatcher.in_background = send_now  # a report file keeps no update waiting
    limits = {name: Limits.of(getattr(settings, name)) for name in adapters}
    scheduler = ReminderScheduler(runtime.dispatcher, runtime.sender(adapters, limits),
                                  max(1, settings.reminders.sweep_seconds))
    if signals:  # `bot.py run`: what the start-up built (modules, mappings) lives as long
        # as the process, kept out of the collector's full passes, which paused a national
        # sender for 50-150 ms every second or two. Before the channels start: a collection
        # once polling runs would hold up the first update.
        gc.collect()
        gc.freeze()
    try:
        for name, adapter in adapters.items():
            started.append(adapter)  # stopped below even when it starts only half-way
            try:
                await adapter.start()
            except Exception as exc:
                failure = _start_failure(name, settings, exc)
                if failure is None:
                    raise
                raise failure from exc
        scheduler.start()
        await stop.wait()
    finally:
        # The reminder tick and the sender finish what they hold (nothing claimed is left
        # half-sent) while the channels can still send; then the channels stop, each after
        # the update it is handling. `bot.py run` exits 0 within run.shutdown_seconds even
        # if that takes longer.
        watchdog = _exit_after(settings.shutdown_seconds) if signals else None
        await scheduler.stop()
        for adapter in reversed(started):
            await adapter.stop()
        await runtime.dispatcher.stop_background()  # left unhandled for the next process
        if web is not None:
            await web.stop()
        for handled in signals:
            asyncio.get_running_loop().remove_signal_handler(handled)
        if watchdog is not None:
            watchdog.cancel()

# --- export ------------------------------------------------------------------------------


@cli.command()
def export(
    ctx: typer.Context,
    file: str,
    task: Annotated[int | None, typer.Option(help="The task's number N (as in #N)")] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="Every task with units")] = False,
    language: Annotated[str | None, typer.Option(help="vi or en (default: the bot's)")] = None,
    member: Annotated[str | None, typer.Option(
        help="Only what this member may see (their office's scope)")] = None,
) -> None:
    """Write the progress workbook of one task (--task N) or of all tasks (--all) to FILE.xlsx:
    a summary sheet with the figures, then one sheet per task with a row per unit."""
    from app import exports

    env = env_of(ctx)
    target = env.path(file)
    if target.suffix.lower() != ".xlsx":
        raise fail(env, f"{file}: expected a file name ending in .xlsx")
    if (task is None) == (not all_tasks):
        raise fail(env, "give either --task N or --all")
    language = language or env.settings.default_language
    if language not in ("vi", "en"):
        raise fail(env, f"unknown language {language!r}: expected vi or en")
    stderr = Console(stderr=True)
    now = env.time()

    async def work(runtime: Runtime) -> tuple[int, int, int]:
        with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
            reading = bar.add_task("Reading tasks", total=None)
            async with runtime.sessions() as session:
                scope = await admin.member_scope(session, member, env.settings) \
                    if member else None
                reports = await exports.read_reports(
                    session, task, lambda _: bar.advance(reading),
                    lambda count: bar.update(reading, total=count), scope)
            writing = bar.add_task("Writing sheets", total=len(reports))
            size = exports.write_workbook(target, reports, language, now,
                                          lambda _: bar.advance(writing))
        return len(reports), sum(len(r.rows) for r in reports), size

    try:
        count, rows, size = run_async(env, work)
    except admin.AdminError as exc:
        raise fail(env, str(exc)) from exc
    env.echo(f"{count} task{'s' if count != 1 else ''}, {rows} unit rows written to {target} "
             f"({size // 1024 or 1} KB)")
