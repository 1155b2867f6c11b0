"""Settings that are refused at start, with the one-line message the person sees."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app import config
from app.bootstrap import Runtime
from app.cli import StartupError, invoke, serve_channels
from app.config import (
    KNOWN_KEYS,
    ChannelSettings,
    ConfigError,
    WebSettings,
    check_for_channels,
    load_settings,
)
from core.clock import utc_now
from testing.emulators.telegram_api import TelegramEmulator
from tests.conftest import fresh_pg_database, sqlite_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def load(tmp_path: Path, text: str) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------- the example and the keys


def test_the_example_loads_and_documents_every_known_key() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.secret_key == "change-me" and not settings.telegram.token
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert {s: set(keys) for s, keys in example.items()} == \
        {s: set(keys) for s, keys in KNOWN_KEYS.items()}


def test_the_known_keys_are_exactly_what_load_settings_reads(monkeypatch) -> None:
    read: set[tuple[str, str]] = set()
    raw = config._raw

    def recording(table, section, key, default):
        read.add((section, key))
        return raw(table, section, key, default)

    monkeypatch.setattr(config, "_raw", recording)
    load_settings(EXAMPLE, env={})
    assert read == {(s, k) for s, keys in KNOWN_KEYS.items() for k in keys}


# ---------------------------------------------------------------------- unknown sections and keys


@pytest.mark.parametrize(("text", "message"), [
    ('[telegarm]\ntoken = ""\n', "[telegarm]: unknown section; did you mean [telegram]?"),
    ("[reminders]\noffset_days = [3]\n",
     "reminders.offset_days: unknown key; did you mean reminders.offsets_days?"),
    ('[bot]\nsecretkey = "x"\n', "bot.secretkey: unknown key; did you mean bot.secret_key?"),
    ('[bot]\nurl = "sqlite+aiosqlite:///x"\n', "bot.url: unknown key; did you mean database.url?"),
    ('[zalo]\nwebhook_port = 8443\n', "zalo.webhook_port: unknown key; did you mean web.port? "
                                      "(the Zalo webhook is served by the web server, [web])"),
    ("[cascade]\nfoo = 1\n", "cascade.foo: unknown key; the keys of [cascade] are lead_days"),
    ('[mail]\nhost = "x"\n', "[mail]: unknown section; the sections are [bot], [offices], "
                             "[cascade], [plans], [database], [files], [reminders], [telegram], "
                             "[zalo], [web], [run]"),
    ("[plans]\nkind = {}\n", "plans.kind: unknown key; did you mean plans.kinds?"),
    ('language = "en"\n', "language: unknown key outside any section; did you mean bot.language?"),
    ('web = "x"\n', "web: expected a [web] section, got a single value"),
])
def test_unknown_sections_and_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert refused(tmp_path, text) == message


# ---------------------------------------------------------------------- values


@pytest.mark.parametrize(("text", "message"), [
    ('[reminders]\nextra_days_off = ["2025-09-02", "02/09/2025"]\n',
     'reminders.extra_days_off: expected dates as "YYYY-MM-DD", such as "2025-09-02", '
     "got '02/09/2025'"),
    ('[reminders]\nextra_days_off = ["2025-02-30"]\n',
     'reminders.extra_days_off: expected dates as "YYYY-MM-DD", such as "2025-09-02", '
     "got '2025-02-30'"),
    ("[reminders]\nextra_days_off = [20250902]\n",
     'reminders.extra_days_off: expected dates as "YYYY-MM-DD", such as "2025-09-02", '
     "got 20250902"),
    ('[reminders]\nquiet_start = "24:00"\n',
     'reminders.quiet_start: expected a time "HH:MM" with hour 0-23 and minute 0-59, such as '
     "\"17:00\", got '24:00'"),
    ('[bot]\ndefault_deadline_time = "17:60"\n',
     'bot.default_deadline_time: expected a time "HH:MM" with hour 0-23 and minute 0-59, such '
     "as \"17:00\", got '17:60'"),
    ('[reminders]\nbefore_time = "8h"\n',
     'reminders.before_time: expected a time "HH:MM" with hour 0-23 and minute 0-59, such as '
     "\"17:00\", got '8h'"),
    ('[telegram]\nbase_url = "127.0.0.1:8081/bot"\n',
     "telegram.base_url: expected an http(s) URL, got '127.0.0.1:8081/bot'"),
    ('[telegram]\nbase_file_url = "ftp://files.example.vn/"\n',
     "telegram.base_file_url: expected an http(s) URL, got 'ftp://files.example.vn/'"),
    ('[telegram]\nwebhook_url = "https://bot.example.vn:99999/tg"\n',
     "telegram.webhook_url: expected an http(s) URL, got 'https://bot.example.vn:99999/tg'"),
    ('[zalo]\nbase_url = "bot-api.zaloplatforms.com"\n',
     "zalo.base_url: expected an http(s) URL, got 'bot-api.zaloplatforms.com'"),
    ('[zalo]\nwebhook_url = "https:///zalo"\n',
     "zalo.webhook_url: expected an http(s) URL, got 'https:///zalo'"),
    ('[web]\npublic_url = "baocao.example.vn"\n',
     "web.public_url: expected an http(s) URL, got 'baocao.example.vn'"),
    ("[web]\nport = 0\n", "web.port: expected a port number 1-65535, got 0"),
    ("[run]\nshutdown_seconds = 0\n", "run.shutdown_seconds: expected 1 to 3600 seconds, got 0.0"),
    ("[run]\nshutdown_seconds = 7200\n",
     "run.shutdown_seconds: expected 1 to 3600 seconds, got 7200.0"),
    ('[run]\nshutdown_seconds = "10s"\n', "run.shutdown_seconds: expected a number, got '10s'"),
    ("[run]\nshutdown_second = 5\n", "run.shutdown_second: unknown key; did you mean "
                                      "run.shutdown_seconds?"),
    ("[telegram]\nwebhook_port = 65536\n",
     "telegram.webhook_port: expected a port number 1-65535, got 65536"),
    ('[web]\nport = "8080"\n', "web.port: expected a port number 1-65535, got '8080'"),
    ('[bot]\nusername = "@baocao_bot"\n',
     'bot.username: expected the bot\'s username without "@" or spaces, such as '
     "\"baocao_so_bot\", got '@baocao_bot'"),
    ('[bot]\nusername = "baocao bot"\n',
     'bot.username: expected the bot\'s username without "@" or spaces, such as '
     "\"baocao_so_bot\", got 'baocao bot'"),
    ('[telegram]\nwebhook_secret = "bí mật"\n',
     "telegram.webhook_secret: expected 1 to 256 characters, each a letter A-Z or a-z, a digit, "
     "_ or - (Telegram refuses any other)"),
    ('[zalo]\nwebhook_secret = "short"\n',
     "zalo.webhook_secret: expected 8 to 256 characters, got 5"),
    ('[bot]\nschool_year_end = "31/08"\n',
     'bot.school_year_end: expected a day "DD/MM" from January to July, such as "31/05", '
     "got '31/08'"),
    ('[bot]\nschool_year_end = "31/06"\n',
     'bot.school_year_end: expected a day "DD/MM" from January to July, such as "31/05", '
     "got '31/06'"),
    ('[bot]\nschool_year_end = "2024-05-31"\n',
     'bot.school_year_end: expected a day "DD/MM" from January to July, such as "31/05", '
     "got '2024-05-31'"),
    ('[plans]\nkinds = ["THPT"]\n',
     'plans.kinds: expected a table of kinds and their words, such as { thpt = ["trường trung '
     'học phổ thông"], ttgdtx = ["trung tâm GDTX"] }, got [\'THPT\']'),
    ('[plans]\nkinds = { THPT = ["trường THPT"] }\n',
     "plans.kinds: 'THPT' is no kind key; expected lower-case letters a-z, digits and _, "
     'beginning with a letter, such as "thpt" or "gdnn_gdtx"'),
    ('[plans]\nkinds = { thpt = [] }\n',
     'plans.kinds.thpt: expected a list of words in quotes, such as ["trường trung học phổ '
     'thông"], got []'),
    ('[plans]\nkinds = { thpt = ["trường THPT", 3] }\n',
     'plans.kinds.thpt: expected a list of words in quotes, such as ["trường trung học phổ '
     "thông\"], got ['trường THPT', 3]"),
])
def test_wrong_values_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert refused(tmp_path, text) == message


def test_good_values_are_taken(tmp_path: Path) -> None:
    settings = load(tmp_path, '[bot]\nusername = "baocao_so_bot"\n'
                              '[reminders]\nextra_days_off = ["2025-09-02", 2025-09-03]\n'
                              'quiet_start = "9:30"\n'
                              '[telegram]\nbase_url = "http://127.0.0.1:8081/bot"\n'
                              'webhook_port = 65535\n'
                              '[web]\nport = 1\npublic_url = "https://baocao.example.vn/"\n')
    assert settings.reminders.extra_days_off == ("2025-09-02", "2025-09-03")
    assert settings.reminders.quiet_start.hour == 9 and settings.bot_username == "baocao_so_bot"
    assert settings.telegram.webhook_port == 65535 and settings.web.port == 1
    assert settings.web.public_url == "https://baocao.example.vn"
    assert settings.school_year_end == (5, 31)
    assert load(tmp_path, '[bot]\nschool_year_end = "30/6"\n').school_year_end == (6, 30)


def test_plan_kinds_are_taken_in_order_and_reach_the_extractor(tmp_path: Path) -> None:
    from core.plan import Audience, UnitView, resolve_audience

    settings = load(tmp_path, '[plans]\nkinds = { ptdtnt = ["trường PTDTNT", "dân tộc nội '
                              'trú"], thpt = "trường phổ thông nhiều cấp học" }\n')
    assert settings.plan_kinds == (("ptdtnt", ("trường PTDTNT", "dân tộc nội trú")),
                                   ("thpt", ("trường phổ thông nhiều cấp học",)))
    assert load_settings(EXAMPLE, env={}).plan_kinds == ()
    units = [UnitView(1, "DTNT", "Trường PTDTNT tỉnh", "Dân tộc nội trú", (), None),
             UnitView(2, "PT-NC", "Trường PT Hà Nam", "Trường phổ thông nhiều cấp học", (), None)]
    extra = dict(settings.plan_kinds)
    assert resolve_audience(Audience("các trường PTDTNT", ("ptdtnt",)), units, None, extra) == [1]
    assert resolve_audience(Audience("các trường THPT", ("thpt",)), units, None, extra) == [2]
    assert resolve_audience(Audience("các trường THPT", ("thpt",)), units, None) == []


# ---------------------------------------------------------------------- what Telegram and Zalo need

GOOD_KEY = "k" * 32
FRESH = "`bot.py secret` prints a fresh one"


def refused_for_channels(tmp_path: Path, text: str) -> str:
    settings = load(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        check_for_channels(settings)
    return str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ('[telegram]\ntoken = "1:x"\n',
     'bot.secret_key: still the example value "change-me", with which anyone could forge the '
     "bot's upload and file links; Telegram needs a random value of at least 32 characters (or "
     f"BOT_SECRET_KEY): {FRESH}"),
    ('[bot]\nsecret_key = "change-me"\n[zalo]\ntoken = "z"\n',
     'bot.secret_key: still the example value "change-me", with which anyone could forge the '
     "bot's upload and file links; Zalo needs a random value of at least 32 characters (or "
     f"BOT_SECRET_KEY): {FRESH}"),
    (f'[bot]\nsecret_key = "{"k" * 31}"\n[telegram]\ntoken = "1:x"\n[zalo]\ntoken = "z"\n',
     "bot.secret_key: 31 characters is too short; Telegram and Zalo need a random value of at "
     f"least 32 characters (or BOT_SECRET_KEY): {FRESH}"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[telegram]\ntoken = "1:x"\nmode = "webhook"\n'
     'webhook_url = "https://bot.example.vn/tg"\n',
     'telegram.webhook_secret: needed with telegram.mode = "webhook", so that nobody but Telegram '
     "can post updates to the bot; set 1 to 256 characters A-Z, a-z, 0-9, _ or - (or "
     "BOT_TELEGRAM_WEBHOOK_SECRET)"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[telegram]\ntoken = "1:x"\nmode = "webhook"\n'
     'webhook_secret = "bi-mat"\n',
     'telegram.webhook_url: needed with telegram.mode = "webhook": the https URL at which '
     "Telegram reaches the bot"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[telegram]\ntoken = "1:x"\nmode = "webhook"\n'
     'webhook_url = "https://bot.example.vn/tg"\nwebhook_secret = "bi-mat"\nwebhook_port = 8080\n'
     '[web]\npublic_url = "https://bot.example.vn"\n',
     "telegram.webhook_port: 8080 is also web.port; the Telegram webhook and the bot's web "
     "server need a port each"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[zalo]\ntoken = "z"\nmode = "webhook"\n'
     'webhook_url = "https://bot.example.vn/zalo"\n',
     'zalo.webhook_secret: needed with zalo.mode = "webhook", so that nobody but Zalo can post '
     "updates to the bot; set 8 to 256 characters (or BOT_ZALO_WEBHOOK_SECRET)"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[zalo]\ntoken = "z"\nmode = "webhook"\n'
     'webhook_secret = "bi-mat-zalo"\n',
     'zalo.webhook_url: needed with zalo.mode = "webhook": the https URL at which Zalo reaches '
     "the bot's web server"),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[zalo]\ntoken = "z"\n',
     "web.public_url: needed with Zalo, which downloads the pictures and file links the bot "
     "sends from the bot's own web server: set the https address at which phones reach it, "
     'such as "https://baocao.example.vn" (or BOT_WEB_PUBLIC_URL)'),
    (f'[bot]\nsecret_key = "{GOOD_KEY}"\n[zalo]\ntoken = "z"\n'
     '[web]\npublic_url = "http://baocao.example.vn"\n',
     "web.public_url: 'http://baocao.example.vn' is not an https address; Zalo downloads the "
     "bot's pictures and file links only over https (or set BOT_WEB_PUBLIC_URL)"),
])
def test_insecure_settings_are_refused_for_the_channels(tmp_path: Path, text: str,
                                                        message: str) -> None:
    assert refused_for_channels(tmp_path, text) == message


def test_the_console_alone_needs_none_of_it(tmp_path: Path) -> None:
    check_for_channels(load_settings(EXAMPLE, env={}))
    check_for_channels(load(tmp_path, '[telegram]\nmode = "webhook"\n'))  # no token: off
    check_for_channels(config.Settings())


def test_a_good_channel_configuration_passes(tmp_path: Path) -> None:
    check_for_channels(load(tmp_path, f'[bot]\nsecret_key = "{GOOD_KEY}"\n'
                                      '[telegram]\ntoken = "1:x"\nmode = "webhook"\n'
                                      'webhook_url = "https://bot.example.vn/tg"\n'
                                      'webhook_secret = "bi-mat"\n[zalo]\ntoken = "z"\n'
                                      '[web]\npublic_url = "https://bot.example.vn"\n'))
    # The environment's secrets count as much as the file's.
    path = tmp_path / "config.toml"
    path.write_text('[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.vn/tg"\n',
                    encoding="utf-8")
    check_for_channels(load_settings(path, env={
        "BOT_TELEGRAM_TOKEN": "1:x", "BOT_SECRET_KEY": GOOD_KEY,
        "BOT_TELEGRAM_WEBHOOK_SECRET": "bi-mat"}))


# ---------------------------------------------------------------------- the command line


def bot(tmp_path: Path, *args: str, config_text: str | None = None,
        **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    if config_text is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config_text, encoding="utf-8")
        environment["BOT_CONFIG"] = str(path)
    environment.update(env)
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=environment, timeout=60,
                          stdin=subprocess.DEVNULL)


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert output == message, output
    assert "Traceback" not in output


def test_secret_prints_a_fresh_key_even_when_the_file_is_wrong(tmp_path: Path) -> None:
    first = bot(tmp_path, "secret", config_text="[telegarm]\n")
    second = bot(tmp_path, "secret")
    assert first.returncode == 0 and second.returncode == 0
    key = first.stdout.strip()
    assert len(key) == 64 and key != second.stdout.strip()
    good = f'[bot]\nsecret_key = "{key}"\n[telegram]\ntoken = "1:x"\n'
    check_for_channels(load(tmp_path, good))


def test_run_with_zalo_and_no_public_url_is_one_line(tmp_path: Path) -> None:
    result = bot(tmp_path, "run", config_text=f'[bot]\nsecret_key = "{GOOD_KEY}"\n'
                                              '[zalo]\ntoken = "z"\n')
    assert result.returncode == 2
    assert_one_line(result, "Configuration error: web.public_url: needed with Zalo, which "
                            "downloads the pictures and file links the bot sends from the "
                            "bot's own web server: set the https address at which phones "
                            'reach it, such as "https://baocao.example.vn" (or '
                            "BOT_WEB_PUBLIC_URL)")


def test_run_with_a_misspelt_section_is_one_line(tmp_path: Path) -> None:
    result = bot(tmp_path, "run", config_text='[telegarm]\ntoken = "123:abc"\n')
    assert result.returncode == 2
    assert_one_line(result, "Configuration error: [telegarm]: unknown section; did you mean "
                            "[telegram]?")


def test_run_with_the_example_secret_key_is_one_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('token = ""', 'token = "123:abc"', 1)
    result = bot(tmp_path, "run", config_text=text)
    assert result.returncode == 2
    assert_one_line(result, 'Configuration error: bot.secret_key: still the example value '
                            '"change-me", with which anyone could forge the bot\'s upload and '
                            "file links; Telegram needs a random value of at least 32 characters "
                            f"(or BOT_SECRET_KEY): {FRESH}")


def test_run_with_a_database_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path}/afile/data/bot.sqlite3"
    result = bot(tmp_path, "run", config_text=f'[database]\nurl = "{url}"\n')
    assert result.returncode == 1
    assert_one_line(result, f"Error: cannot open the database {url}: cannot create the folder "
                            f"{tmp_path}/afile/data (Not a directory); check database.url")


def test_run_with_the_web_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = bot(tmp_path, "run", config_text=(
            f'[bot]\nsecret_key = "{GOOD_KEY}"\n'
            f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"\n'
            '[telegram]\ntoken = "1:x"\nbase_url = "http://127.0.0.1:1/bot"\n'
            f'[web]\nport = {port}\npublic_url = "https://baocao.example.vn"\n'))
    assert result.returncode == 1
    assert_one_line(result, f"Error: web.port: 127.0.0.1:{port} is already in use (another bot "
                            "process, or another program); stop it or choose another web.port")


# ---------------------------------------------------------------------- start-up, in process


async def test_a_missing_postgresql_database_or_role_is_named(tmp_path: Path) -> None:
    async with fresh_pg_database() as url:  # skips without PostgreSQL
        server, name = url.rsplit("/", 1)
        user = server.split("//", 1)[1].split("@", 1)[0]
        cases = {
            f"{server}/no_such_database": 'database "no_such_database" does not exist',
            server.replace(f"//{user}@", "//no_such_role@") + f"/{name}":
                'role "no_such_role" does not exist',
        }
        for database_url, reason in cases.items():
            settings = dataclasses.replace(sqlite_settings(tmp_path), database_url=database_url)
            code, out = await asyncio.to_thread(invoke, ["db", "upgrade"], settings, tmp_path,
                                                utc_now())
            assert code == 1
            assert out == f"Error: cannot open the database {database_url}: {reason}; check " \
                          "database.url\n"


def busy_port() -> socket.socket:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    return busy


async def serve_failure(settings: config.Settings) -> str:
    runtime = await Runtime.open(settings)
    try:
        with pytest.raises(StartupError) as caught:
            await asyncio.wait_for(serve_channels(runtime), 30)
        return str(caught.value)
    finally:
        await runtime.close()


async def test_a_webhook_port_in_use_is_named(tmp_path: Path) -> None:
    async with TelegramEmulator() as emu:
        with busy_port() as busy:
            port = busy.getsockname()[1]
            telegram = ChannelSettings(
                token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                mode="webhook", webhook_port=port, webhook_url=f"http://127.0.0.1:{port}/tg",
                webhook_secret="bi-mat")
            message = await serve_failure(dataclasses.replace(
                sqlite_settings(tmp_path), secret_key=GOOD_KEY, telegram=telegram))
    assert message == f"telegram.webhook_port: 127.0.0.1:{port} is already in use (another bot " \
                      "process, or another program); stop it or choose another " \
                      "telegram.webhook_port"


async def test_the_web_server_on_an_address_it_cannot_take_is_named(tmp_path: Path) -> None:
    web = WebSettings(listen="192.0.2.1", port=8080, public_url="https://baocao.example.vn")
    message = await serve_failure(dataclasses.replace(sqlite_settings(tmp_path), web=web))
    assert message == "web.listen: cannot listen on 192.0.2.1:8080 (Cannot assign requested " \
                      "address); check web.listen and web.port"


async def test_a_token_the_bot_api_refuses_is_named(tmp_path: Path) -> None:
    async with TelegramEmulator() as emu:
        telegram = ChannelSettings(token="999:WRONG", base_url=emu.base_url,
                                   base_file_url=emu.base_file_url)
        message = await serve_failure(dataclasses.replace(
            sqlite_settings(tmp_path), secret_key=GOOD_KEY, telegram=telegram))
    assert message == "telegram.token: refused by the Telegram Bot API; check telegram.token " \
                      "(or BOT_TELEGRAM_TOKEN) and telegram.base_url"


async def test_a_files_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    web = WebSettings(port=0, public_url="https://baocao.example.vn")
    message = await serve_failure(dataclasses.replace(
        sqlite_settings(tmp_path), files_dir=tmp_path / "afile" / "files", web=web))
    assert message == f"files.dir: cannot create the folder {tmp_path}/afile/files " \
                      "(Not a directory)"
