"""One zip with the files units sent for a task: the latest file of each unit (and period),
named `<unit code> - <unit name>.<ext>` so a clerk can file them as they are."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import PurePath

from core.clock import to_local
from reports.rows import TargetRow, TaskReport

MAX_STEM = 120  # characters; every common file system takes names this long
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def safe_name(text: str) -> str:
    """`text` usable as a file name on Windows, macOS and Linux: NFC, no path separators or
    reserved characters, no leading dots, no trailing dots or spaces."""
    text = unicodedata.normalize("NFC", _UNSAFE.sub(" ", text))
    return " ".join(text.split()).lstrip(". ").rstrip(". ")


def extension(row: TargetRow) -> str:
    """`.pdf`: from the sent file's name, else from its content type."""
    suffix = PurePath(row.file_name).suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        return suffix
    return mimetypes.guess_extension(row.file_mime or "") or ""


def entry_names(rows: list[TargetRow]) -> list[str]:
    """The name in the archive of each row's file, unique (case-insensitively, as Windows
    sees them), in the order of `rows`."""
    taken: set[str] = set()
    names = []
    for row in rows:
        parts = [row.code, row.name] + ([row.period] if row.period else [])
        stem = safe_name(" - ".join(parts))[:MAX_STEM].rstrip(". ") or "tep"
        ext = extension(row)
        name, n = f"{stem}{ext}", 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem} ({n}){ext}"
        taken.add(name.casefold())
        names.append(name)
    return names


def with_files(report: TaskReport) -> list[TargetRow]:
    """The rows that have a file, by unit code and period."""
    return sorted((r for r in report.rows if r.file_sha256),
                  key=lambda r: (r.code, r.period))


def build_archives(report: TaskReport, read: Callable[[str], bytes],
                   max_bytes: int) -> list[bytes]:
    """The zips of `report`'s files, each holding files of at most `max_bytes` in all (one
    file more only when it alone is larger), so that each part can be sent in a chat;
    `read(sha256)` gives a file's content. Entries are dated when their unit submitted
    (local time) and named uniquely across the parts."""
    rows = with_files(report)
    parts: list[list[tuple[TargetRow, str]]] = [[]]
    size = 0
    for row, name in zip(rows, entry_names(rows), strict=True):
        if parts[-1] and size + row.file_size > max_bytes:
            parts.append([])
            size = 0
        parts[-1].append((row, name))
        size += row.file_size
    return [_zip(part, read) for part in parts if part]


def _zip(entries: list[tuple[TargetRow, str]], read: Callable[[str], bytes]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row, name in entries:
            info = zipfile.ZipInfo(name)
            if row.submitted_at is not None:
                info.date_time = to_local(row.submitted_at).timetuple()[:6]
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, read(row.file_sha256 or ""))
    return buffer.getvalue()
