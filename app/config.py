"""Configuration from `config.toml` (see `config.example.toml`) with environment overrides.

A bad or missing value stops start-up with a `ConfigError` that names the key and what is
expected, instead of failing later in the middle of a conversation.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from calendar import monthrange
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from channels.base import ChannelSettings, WebSettings

DEFAULT_DB_URL = "sqlite+aiosqlite:///data/bot.sqlite3"


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class ReminderSettings:
    offsets_days: tuple[int, ...] = (7, 3, 1)
    before_time: time = time(8, 0)
    on_day_time: time = time(7, 30)
    overdue_time: time = time(8, 0)
    overdue_max: int = 10
    quiet_start: time = time(21, 0)
    quiet_end: time = time(7, 0)
    saturday_off: bool = False
    public_holidays: bool = True
    extra_days_off: tuple[str, ...] = ()
    sweep_seconds: int = 30
    period_lead_days: int = 30  # a recurring task's next period opens this long before it


# Kinds of unit that are departments of the office above them (Văn phòng Sở, a Phòng thuộc
# Sở): their staff and leaders act for that office.
DEPARTMENT_KINDS = ("Phòng thuộc Sở", "Văn phòng")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DB_URL
    files_dir: Path = Path("data/files")
    max_file_mb: int = 20
    default_language: str = "vi"
    default_deadline_time: time = time(17, 0)
    school_year_end: tuple[int, int] = (5, 31)  # (month, day) «năm học 2023-2024» ends
    bot_username: str = ""
    secret_key: str = "change-me"  # refused for Telegram and Zalo (check_for_channels)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    telegram: ChannelSettings = field(default_factory=ChannelSettings)
    zalo: ChannelSettings = field(default_factory=ChannelSettings)
    web: WebSettings = field(default_factory=lambda: WebSettings())
    department_kinds: tuple[str, ...] = DEPARTMENT_KINDS
    cascade_lead_days: int = 2  # a hand-down's deadline: this many working days earlier
    # Words of plans for unit kinds, beyond core.plan's built-in table: ((kind, (words, ...)),
    # ...) in the order of the file; `dict(settings.plan_kinds)` is what core.plan takes.
    plan_kinds: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # `bot.py run` stopped by SIGTERM/SIGINT exits 0 within this many seconds, finished or not
    shutdown_seconds: float = 8.0
    base_dir: Path = Path(".")

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024


MIN_SHUTDOWN, MAX_SHUTDOWN = 1, 3600  # run.shutdown_seconds

ENV_OVERRIDES = {
    "BOT_DATABASE_URL": ("database", "url"),
    "BOT_TELEGRAM_TOKEN": ("telegram", "token"),
    "BOT_ZALO_TOKEN": ("zalo", "token"),
    "BOT_SECRET_KEY": ("bot", "secret_key"),
    "BOT_TELEGRAM_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
    "BOT_ZALO_WEBHOOK_SECRET": ("zalo", "webhook_secret"),
    "BOT_WEB_PUBLIC_URL": ("web", "public_url"),
}


# Every section and key that `load_settings` reads, in one place: anything else in the file is
# refused (a misspelt key would otherwise be ignored and its default used without a word).
_CHANNEL_LIMITS = ("messages_per_second", "per_chat_per_second", "per_group_per_minute")
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "bot": ("language", "default_deadline_time", "school_year_end", "username", "secret_key"),
    "offices": ("department_kinds",),
    "cascade": ("lead_days",),
    "plans": ("kinds",),
    "database": ("url",),
    "files": ("dir", "max_size_mb"),
    "reminders": ("offsets_days", "before_time", "on_day_time", "overdue_time", "overdue_max",
                  "quiet_start", "quiet_end", "saturday_off", "public_holidays",
                  "extra_days_off", "sweep_seconds", "period_lead_days"),
    "telegram": ("token", "base_url", "base_file_url", "mode", "webhook_listen", "webhook_port",
                 "webhook_url", "webhook_secret", *_CHANNEL_LIMITS, "max_download_mb"),
    # The Zalo webhook is served by the bot's web server ([web]), files come through its
    # upload page: no listen address, port or download limit of its own.
    "zalo": ("token", "base_url", "mode", "webhook_url", "webhook_secret", *_CHANNEL_LIMITS),
    "web": ("listen", "port", "public_url", "link_minutes", "file_link_days"),
    "run": ("shutdown_seconds",),
}
# Keys that people look for in one section but that live in another.
_ELSEWHERE = {"zalo.webhook_port": "web.port", "zalo.webhook_listen": "web.listen"}


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def check_known_keys(raw: dict[str, Any]) -> None:
    """Refuse a section or key that nothing reads, naming the nearest known one."""
    everything = [f"{s}.{k}" for s, keys in KNOWN_KEYS.items() for k in keys]
    for section, table in raw.items():
        if section not in KNOWN_KEYS:
            if isinstance(table, dict):
                close = difflib.get_close_matches(section, list(KNOWN_KEYS), n=1)
                hint = f"; did you mean [{close[0]}]?" if close else \
                    f"; the sections are {', '.join(f'[{s}]' for s in KNOWN_KEYS)}"
                raise ConfigError(f"[{section}]: unknown section{hint}")
            owners = [n for n in everything if n.endswith(f".{section}")]
            hint = f"; did you mean {owners[0]}?" if owners else _suggestion(section, everything)
            raise ConfigError(f"{section}: unknown key outside any section{hint}")
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a [{section}] section, got a single value")
        for key in table:
            if key in KNOWN_KEYS[section]:
                continue
            name = f"{section}.{key}"
            if name in _ELSEWHERE:
                raise ConfigError(f"{name}: unknown key; did you mean {_ELSEWHERE[name]}? "
                                  f"(the Zalo webhook is served by the web server, [web])")
            # The same key in another section, a close one in this section, or anywhere.
            owners = [n for n in everything if n.endswith(f".{key}")]
            hint = (f"; did you mean {owners[0]}?" if owners else "") or \
                _suggestion(name, [f"{section}.{k}" for k in KNOWN_KEYS[section]]) or \
                _suggestion(name, everything) or \
                f"; the keys of [{section}] are {', '.join(KNOWN_KEYS[section])}"
            raise ConfigError(f"{name}: unknown key{hint}")


def _raw(table: dict[str, Any], section: str, key: str, default: Any) -> Any:
    if key not in KNOWN_KEYS.get(section, ()):
        raise KeyError(f"{section}.{key} is read but not listed in KNOWN_KEYS")
    return table.get(section, {}).get(key, default)


_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _school_year_end(value: str) -> tuple[int, int]:
    """«31/05» → (5, 31): the day a school year ends, in January to July of its second year
    (it starts in August)."""
    match = re.fullmatch(r"\s*([0-9]{1,2})/([0-9]{1,2})\s*", value)
    day, month = (int(match[1]), int(match[2])) if match else (0, 0)
    if not (1 <= month <= 7 and 1 <= day <= monthrange(2024, month)[1]):  # 29/02 allowed
        raise ConfigError("bot.school_year_end: expected a day \"DD/MM\" from January to July, "
                          f"such as \"31/05\", got {value!r}")
    return month, day


def _get(table: dict[str, Any], section: str, key: str, kind: type, default: Any) -> Any:
    value = _raw(table, section, key, default)
    name = f"{section}.{key}"
    if kind is time:
        if isinstance(value, time):
            return value
        match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ConfigError(f"{name}: expected a time \"HH:MM\" with hour 0-23 and minute "
                              f"0-59, such as \"17:00\", got {value!r}")
        return time(int(match[1]), int(match[2]))
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{name}: expected a number not below 0, got {value!r}")
        return kind(value)
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{name}: expected a text in quotes, got {value!r}")
    if kind is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: expected a list such as [7, 3, 1], got {value!r}")
        return tuple(value)
    return value


def _url(table: dict[str, Any], section: str, key: str) -> str:
    """An http(s) URL, or empty when not set."""
    value = _get(table, section, key, str, "").strip()
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or any(c.isspace() for c in value):
        raise ConfigError(f"{section}.{key}: expected an http(s) URL, got {value!r}")
    return value


def _port(table: dict[str, Any], section: str, key: str, default: int) -> int:
    value = _raw(table, section, key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{section}.{key}: expected a port number 1-65535, got {value!r}")
    return value


def _days_off(table: dict[str, Any]) -> tuple[str, ...]:
    """`reminders.extra_days_off` as "YYYY-MM-DD" texts (a TOML date such as 2025-09-02
    written without quotes is taken too)."""
    days = []
    for day in _get(table, "reminders", "extra_days_off", tuple, ()):
        if isinstance(day, date) and not isinstance(day, datetime):
            days.append(day.isoformat())
            continue
        if isinstance(day, str) and _DATE.fullmatch(day.strip()):
            try:
                days.append(date.fromisoformat(day.strip()).isoformat())
                continue
            except ValueError:
                pass
        raise ConfigError(f"reminders.extra_days_off: expected dates as \"YYYY-MM-DD\", such "
                          f"as \"2025-09-02\", got {day!r}")
    return tuple(days)


# Telegram takes a webhook's secret_token of 1-256 of these characters only.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _channel(raw: dict[str, Any], section: str) -> ChannelSettings:
    d = ChannelSettings()
    known = KNOWN_KEYS[section]

    def get(key: str, kind: type) -> Any:
        return _get(raw, section, key, kind, getattr(d, key)) if key in known \
            else getattr(d, key)

    mode = get("mode", str)
    if mode not in ("polling", "webhook"):
        raise ConfigError(f"{section}.mode: expected \"polling\" or \"webhook\", got {mode!r}")
    secret = get("webhook_secret", str)
    if secret and section == "telegram" and not _TELEGRAM_SECRET.fullmatch(secret):
        raise ConfigError("telegram.webhook_secret: expected 1 to 256 characters, each a letter "
                          "A-Z or a-z, a digit, _ or - (Telegram refuses any other)")
    if secret and section == "zalo" and not 8 <= len(secret) <= 256:
        raise ConfigError(f"zalo.webhook_secret: expected 8 to 256 characters, got "
                          f"{len(secret)}")
    return ChannelSettings(
        token=get("token", str).strip(),
        base_url=_url(raw, section, "base_url"),
        base_file_url=_url(raw, section, "base_file_url") if "base_file_url" in known else "",
        mode=mode,
        webhook_listen=get("webhook_listen", str),
        webhook_port=_port(raw, section, "webhook_port", d.webhook_port)
        if "webhook_port" in known else d.webhook_port,
        webhook_url=_url(raw, section, "webhook_url"),
        webhook_secret=secret,
        messages_per_second=get("messages_per_second", float),
        per_chat_per_second=get("per_chat_per_second", float),
        per_group_per_minute=get("per_group_per_minute", float),
        max_download_mb=get("max_download_mb", int),
    )


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read `path` (default: `config.toml` beside bot.py if present) and apply `env`."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    if path is None:
        candidate = Path(env.get("BOT_CONFIG", "config.toml"))
        path = candidate if candidate.exists() else None
    elif not path.exists():
        raise ConfigError(f"config file {path} not found: copy config.example.toml to {path}")
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    check_known_keys(raw)
    for variable, (section, key) in ENV_OVERRIDES.items():
        if env.get(variable):
            raw.setdefault(section, {})[key] = env[variable]

    r = ReminderSettings()
    offsets = _get(raw, "reminders", "offsets_days", tuple, r.offsets_days)
    if not all(isinstance(o, int) and 0 < o <= 60 for o in offsets):
        raise ConfigError(f"reminders.offsets_days: expected whole days 1..60, got {offsets!r}")
    reminders = ReminderSettings(
        offsets_days=tuple(sorted(set(offsets), reverse=True)),
        before_time=_get(raw, "reminders", "before_time", time, r.before_time),
        on_day_time=_get(raw, "reminders", "on_day_time", time, r.on_day_time),
        overdue_time=_get(raw, "reminders", "overdue_time", time, r.overdue_time),
        overdue_max=_get(raw, "reminders", "overdue_max", int, r.overdue_max),
        quiet_start=_get(raw, "reminders", "quiet_start", time, r.quiet_start),
        quiet_end=_get(raw, "reminders", "quiet_end", time, r.quiet_end),
        saturday_off=_get(raw, "reminders", "saturday_off", bool, r.saturday_off),
        public_holidays=_get(raw, "reminders", "public_holidays", bool, r.public_holidays),
        extra_days_off=_days_off(raw),
        sweep_seconds=_get(raw, "reminders", "sweep_seconds", int, r.sweep_seconds),
    )
    lead = _get(raw, "reminders", "period_lead_days", int, r.period_lead_days)
    if not 1 <= lead <= 366:
        raise ConfigError(f"reminders.period_lead_days: expected 1..366 days, got {lead!r}")
    reminders = replace(reminders, period_lead_days=lead)
    language = _get(raw, "bot", "language", str, "vi")
    if language not in ("vi", "en"):
        raise ConfigError(f"bot.language: expected \"vi\" or \"en\", got {language!r}")
    departments = _get(raw, "offices", "department_kinds", tuple, DEPARTMENT_KINDS)
    if not all(isinstance(kind, str) and kind.strip() for kind in departments):
        raise ConfigError(f"offices.department_kinds: expected a list of unit kinds in quotes, "
                          f"got {list(departments)!r}")
    lead_days = _get(raw, "cascade", "lead_days", int, 2)
    if lead_days > 60:
        raise ConfigError(f"cascade.lead_days: expected 0..60 working days, got {lead_days!r}")
    school_year_end = _school_year_end(_get(raw, "bot", "school_year_end", str, "31/05"))
    plan_kinds = _plan_kinds(raw)
    shutdown = _get(raw, "run", "shutdown_seconds", float, 8.0)
    if not MIN_SHUTDOWN <= shutdown <= MAX_SHUTDOWN:
        raise ConfigError(f"run.shutdown_seconds: expected {MIN_SHUTDOWN:g} to {MAX_SHUTDOWN:g} "
                          f"seconds, got {shutdown!r}")
    url = _get(raw, "database", "url", str, DEFAULT_DB_URL)
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "database.url: expected sqlite+aiosqlite:///PATH or "
            f"postgresql+asyncpg://USER@HOST/DB, got {url!r}"
        )
    return Settings(
        database_url=url,
        files_dir=Path(_get(raw, "files", "dir", str, "data/files")),
        max_file_mb=_get(raw, "files", "max_size_mb", int, 20),
        default_language=language,
        default_deadline_time=_get(raw, "bot", "default_deadline_time", time, time(17, 0)),
        school_year_end=school_year_end,
        bot_username=_username(raw),
        secret_key=_get(raw, "bot", "secret_key", str, EXAMPLE_SECRET_KEY),
        reminders=reminders,
        telegram=_channel(raw, "telegram"),
        zalo=_channel(raw, "zalo"),
        web=_web(raw),
        department_kinds=departments,
        cascade_lead_days=lead_days,
        plan_kinds=plan_kinds,
        shutdown_seconds=shutdown,
        base_dir=path.parent if path else Path("."),
    )


_PLAN_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PLAN_KINDS_FORM = '{ thpt = ["trường trung học phổ thông"], ttgdtx = ["trung tâm GDTX"] }'


def _plan_kinds(raw: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`plans.kinds`: kind keys (lower-case letters, digits and _) with the words plans use
    for them, added to the built-in table of core.plan."""
    table = _raw(raw, "plans", "kinds", {})
    if not isinstance(table, dict):
        raise ConfigError(f"plans.kinds: expected a table of kinds and their words, such as "
                          f"{_PLAN_KINDS_FORM}, got {table!r}")
    kinds = []
    for key, words in table.items():
        if not _PLAN_KIND.fullmatch(key):
            raise ConfigError(f"plans.kinds: {key!r} is no kind key; expected lower-case "
                              f"letters a-z, digits and _, beginning with a letter, such as "
                              f"\"thpt\" or \"gdnn_gdtx\"")
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not words or \
                not all(isinstance(w, str) and any(c.isalnum() for c in w) for w in words):
            raise ConfigError(f"plans.kinds.{key}: expected a list of words in quotes, such as "
                              f"[\"trường trung học phổ thông\"], got {words!r}")
        kinds.append((key, tuple(w.strip() for w in words)))
    return tuple(kinds)


def _username(raw: dict[str, Any]) -> str:
    username = _get(raw, "bot", "username", str, "").strip()
    if "@" in username or any(c.isspace() for c in username):
        raise ConfigError(f"bot.username: expected the bot's username without \"@\" or spaces, "
                          f"such as \"baocao_so_bot\", got {username!r}")
    return username


# --- what a channel on the Internet needs -------------------------------------------------

EXAMPLE_SECRET_KEY = "change-me"  # config.example.toml's, and the default
MIN_SECRET_KEY = 32
FRESH_SECRET = "`bot.py secret` prints a fresh one"


def check_for_channels(settings: Settings) -> None:
    """Refuse what is harmless on the console but insecure or unusable once Telegram or Zalo
    runs (a token is set); `bot.py run` calls this before anything starts."""
    telegram, zalo = settings.telegram, settings.zalo
    if telegram.token and telegram.mode == "webhook":
        if not telegram.webhook_url:
            raise ConfigError("telegram.webhook_url: needed with telegram.mode = \"webhook\": "
                              "the https URL at which Telegram reaches the bot")
        if not telegram.webhook_secret:
            raise ConfigError("telegram.webhook_secret: needed with telegram.mode = "
                              "\"webhook\", so that nobody but Telegram can post updates to the "
                              "bot; set 1 to 256 characters A-Z, a-z, 0-9, _ or - (or "
                              "BOT_TELEGRAM_WEBHOOK_SECRET)")
        web_runs = bool(zalo.token or settings.web.public_url)
        if web_runs and telegram.webhook_port == settings.web.port and \
                telegram.webhook_listen == settings.web.listen:
            raise ConfigError(f"telegram.webhook_port: {telegram.webhook_port} is also web.port; "
                              f"the Telegram webhook and the bot's web server need a port each")
    if zalo.token and zalo.mode == "webhook":
        if not zalo.webhook_url:
            raise ConfigError("zalo.webhook_url: needed with zalo.mode = \"webhook\": the https "
                              "URL at which Zalo reaches the bot's web server")
        if not zalo.webhook_secret:
            raise ConfigError("zalo.webhook_secret: needed with zalo.mode = \"webhook\", so that "
                              "nobody but Zalo can post updates to the bot; set 8 to 256 "
                              "characters (or BOT_ZALO_WEBHOOK_SECRET)")
    if not telegram.token and not zalo.token:
        return
    channels = " and ".join(name for name, channel in (("Telegram", telegram), ("Zalo", zalo))
                            if channel.token)
    needs = f"{channels} {'need' if ' and ' in channels else 'needs'}"
    key = settings.secret_key
    if key == EXAMPLE_SECRET_KEY:
        raise ConfigError(f"bot.secret_key: still the example value \"{EXAMPLE_SECRET_KEY}\", "
                          f"with which anyone could forge the bot's upload and file links; "
                          f"{needs} a random value of at least {MIN_SECRET_KEY} "
                          f"characters (or BOT_SECRET_KEY): {FRESH_SECRET}")
    if len(key) < MIN_SECRET_KEY:
        raise ConfigError(f"bot.secret_key: {len(key)} characters is too short; {needs} "
                          f"a random value of at least {MIN_SECRET_KEY} characters (or "
                          f"BOT_SECRET_KEY): {FRESH_SECRET}")
    if zalo.token:  # Zalo fetches the pictures and file links the bot sends from its server
        public = settings.web.public_url
        if not public:
            raise ConfigError("web.public_url: needed with Zalo, which downloads the pictures "
                              "and file links the bot sends from the bot's own web server: set "
                              "the https address at which phones reach it, such as "
                              "\"https://baocao.example.vn\" (or BOT_WEB_PUBLIC_URL)")
        if not public.startswith("https://"):
            raise ConfigError(f"web.public_url: {public!r} is not an https address; Zalo "
                              f"downloads the bot's pictures and file links only over https "
                              f"(or set BOT_WEB_PUBLIC_URL)")


# --- the bot's web server: upload page, file links, Zalo webhook ---------------------------


def _web(raw: dict[str, Any]) -> WebSettings:
    d = WebSettings()
    public_url = _url(raw, "web", "public_url").rstrip("/")
    minutes = _get(raw, "web", "link_minutes", int, d.link_minutes)
    if minutes < 1:
        raise ConfigError(f"web.link_minutes: expected at least 1, got {minutes!r}")
    return WebSettings(
        listen=_get(raw, "web", "listen", str, d.listen),
        port=_port(raw, "web", "port", d.port),
        public_url=public_url,
        link_minutes=minutes,
        file_link_days=max(1, _get(raw, "web", "file_link_days", int, d.file_link_days)),
    )
