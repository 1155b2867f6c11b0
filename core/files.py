"""What a report file may be: its type is judged by its content, never by its name."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from io import BytesIO

# (magic prefix, MIME type). Office Open XML files are zip archives told apart below.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc / .xls
    (b"Rar!\x1a\x07", "application/vnd.rar"),
)

_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "application/x-ole-storage",
        "application/zip",
        "application/vnd.rar",
        "text/plain",
        "text/csv",
        *_OOXML.values(),
    }
)

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})


def sniff_type(data: bytes) -> str:
    """The MIME type that the bytes themselves show, `application/octet-stream` if unknown."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "application/octet-stream"
        for prefix, mime in _OOXML.items():
            if any(name.startswith(prefix) for name in names):
                return mime
        return "application/zip"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "text/csv" if text.count(",") + text.count(";") > text.count("\n") else "text/plain"
    return "application/octet-stream"


@dataclass(frozen=True)
class FileProblem:
    """Why a file was refused: `code` is one of empty, too_large, bad_type."""

    code: str
    size: int
    limit: int
    mime_type: str


def check_file(data: bytes, limit_bytes: int) -> tuple[str, FileProblem | None]:
    """The sniffed type of `data` and, if it cannot be accepted, the reason."""
    mime = sniff_type(data)
    if not data:
        return mime, FileProblem("empty", 0, limit_bytes, mime)
    if len(data) > limit_bytes:
        return mime, FileProblem("too_large", len(data), limit_bytes, mime)
    if mime not in ALLOWED_TYPES:
        return mime, FileProblem("bad_type", len(data), limit_bytes, mime)
    return mime, None
