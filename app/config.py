"""Configuration from `config.toml` (see `config.example.toml`) with environment overrides.

A bad or missing value stops start-up with a `ConfigError` that names the key and what is
expected, instead of failing later in the middle of a conversation.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class ChannelSettings:
    token: str = ""
    base_url: str = ""
    base_file_url: str = ""
    mode: str = "polling"  # polling | webhook
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_secret: str = ""
    messages_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0
    max_download_mb: int = 20


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
    bot_username: str = ""
    secret_key: str = "change-me"
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    telegram: ChannelSettings = field(default_factory=ChannelSettings)
    zalo: ChannelSettings = field(default_factory=ChannelSettings)
    web: WebSettings = field(default_factory=lambda: WebSettings())
    department_kinds: tuple[str, ...] = DEPARTMENT_KINDS
    cascade_lead_days: int = 2  # a hand-down's deadline: this many working days earlier
    base_dir: Path = Path(".")

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024


ENV_OVERRIDES = {
    "BOT_DATABASE_URL": ("database", "url"),
    "BOT_TELEGRAM_TOKEN": ("telegram", "token"),
    "BOT_ZALO_TOKEN": ("zalo", "token"),
    "BOT_SECRET_KEY": ("bot", "secret_key"),
    "BOT_TELEGRAM_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
    "BOT_ZALO_WEBHOOK_SECRET": ("zalo", "webhook_secret"),
    "BOT_WEB_PUBLIC_URL": ("web", "public_url"),
}


def _get(table: dict[str, Any], section: str, key: str, kind: type, default: Any) -> Any:
    value = table.get(section, {}).get(key, default)
    name = f"{section}.{key}"
    if kind is time:
        if isinstance(value, time):
            return value
        try:
            hour, minute = str(value).split(":")
            return time(int(hour), int(minute))
        except ValueError as exc:
            raise ConfigError(f"{name}: expected a time such as \"17:00\", got {value!r}") from exc
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


def _channel(raw: dict[str, Any], section: str) -> ChannelSettings:
    d = ChannelSettings()
    mode = _get(raw, section, "mode", str, d.mode)
    if mode not in ("polling", "webhook"):
        raise ConfigError(f"{section}.mode: expected \"polling\" or \"webhook\", got {mode!r}")
    return ChannelSettings(
        token=_get(raw, section, "token", str, d.token),
        base_url=_get(raw, section, "base_url", str, d.base_url),
        base_file_url=_get(raw, section, "base_file_url", str, d.base_file_url),
        mode=mode,
        webhook_listen=_get(raw, section, "webhook_listen", str, d.webhook_listen),
        webhook_port=_get(raw, section, "webhook_port", int, d.webhook_port),
        webhook_url=_get(raw, section, "webhook_url", str, d.webhook_url),
        webhook_secret=_get(raw, section, "webhook_secret", str, d.webhook_secret),
        messages_per_second=_get(raw, section, "messages_per_second", float, 30.0),
        per_chat_per_second=_get(raw, section, "per_chat_per_second", float, 1.0),
        per_group_per_minute=_get(raw, section, "per_group_per_minute", float, 20.0),
        max_download_mb=_get(raw, section, "max_download_mb", int, d.max_download_mb),
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
        extra_days_off=_get(raw, "reminders", "extra_days_off", tuple, r.extra_days_off),
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
        bot_username=_get(raw, "bot", "username", str, ""),
        secret_key=_get(raw, "bot", "secret_key", str, "change-me"),
        reminders=reminders,
        telegram=_channel(raw, "telegram"),
        zalo=_channel(raw, "zalo"),
        web=_web(raw),
        department_kinds=departments,
        cascade_lead_days=lead_days,
        base_dir=path.parent if path else Path("."),
    )


# --- the bot's web server: upload page, file links, Zalo webhook ---------------------------


@dataclass(frozen=True)
class WebSettings:
    listen: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # how users reach it, e.g. https://baocao.example.vn
    link_minutes: int = 30  # lifetime of an upload link
    file_link_days: int = 30  # lifetime of a link to a file the bot sends on Zalo


def _web(raw: dict[str, Any]) -> WebSettings:
    d = WebSettings()
    public_url = _get(raw, "web", "public_url", str, d.public_url).rstrip("/")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"web.public_url: expected an http(s) URL, got {public_url!r}")
    minutes = _get(raw, "web", "link_minutes", int, d.link_minutes)
    if minutes < 1:
        raise ConfigError(f"web.link_minutes: expected at least 1, got {minutes!r}")
    return WebSettings(
        listen=_get(raw, "web", "listen", str, d.listen),
        port=_get(raw, "web", "port", int, d.port),
        public_url=public_url,
        link_minutes=minutes,
        file_link_days=max(1, _get(raw, "web", "file_link_days", int, d.file_link_days)),
    )
