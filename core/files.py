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

# What a name's extension promises: a file whose content is another type is refused (an HTML
# page named .docx, an SVG named .png). Names without one of these extensions are judged by
# their content alone.
_EXTENSIONS = {
    "pdf": {"application/pdf"},
    "png": {"image/png"},
    "jpg": {"image/jpeg"}, "jpeg": {"image/jpeg"},
    "doc": {"application/x-ole-storage"}, "xls": {"application/x-ole-storage"},
    "ppt": {"application/x-ole-storage"},
    "docx": {_OOXML["word/"]}, "xlsx": {_OOXML["xl/"]}, "pptx": {_OOXML["ppt/"]},
    "zip": {"application/zip", *_OOXML.values()},
    "rar": {"application/vnd.rar"},
    "txt": {"text/plain", "text/csv"}, "csv": {"text/csv", "text/plain"},
}
# Containers (zip, Office files) are opened within these limits, or refused: a small file
# that unpacks to gigabytes (a zip bomb) is not a report.
MAX_ENTRIES = 10_000
MAX_UNPACKED = 500 * 1024 * 1024
MAX_RATIO = 200  # unpacked size / packed size of the whole archive
_MARKUP = ("<!doctype", "<html", "<svg", "<?xml", "<script")


def sniff_type(data: bytes) -> str:
    """The MIME type that the bytes themselves show, `application/octet-stream` if unknown."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            return "application/octet-stream"
        for prefix, mime in _OOXML.items():
            if any(name.startswith(prefix) for name in names):
                return mime
        return "application/zip"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if text.lstrip().lower().startswith(_MARKUP):  # a web page or a drawing, not a report
        return "text/html"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "text/csv" if text.count(",") + text.count(";") > text.count("\n") else "text/plain"
    return "application/octet-stream"


@dataclass(frozen=True)
class FileProblem:
    """Why a file was refused: `code` is one of empty, too_large, bad_type, wrong_name (the
    content is not what the name says), container (an archive too big when unpacked)."""

    code: str
    size: int
    limit: int
    mime_type: str


def check_file(data: bytes, limit_bytes: int, name: str = "") -> tuple[str, FileProblem | None]:
    """The sniffed type of `data` and, if it cannot be accepted, the reason: its size, its
    type, a name whose extension promises another type, or an archive past the limits."""
    mime = sniff_type(data)
    if not data:
        return mime, FileProblem("empty", 0, limit_bytes, mime)
    if len(data) > limit_bytes:
        return mime, FileProblem("too_large", len(data), limit_bytes, mime)
    if mime not in ALLOWED_TYPES:
        return mime, FileProblem("bad_type", len(data), limit_bytes, mime)
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension in _EXTENSIONS and mime not in _EXTENSIONS[extension]:
        return mime, FileProblem("wrong_name", len(data), limit_bytes, mime)
    if mime == "application/zip" or mime in _OOXML.values():
        if not _container_fits(data):
            return mime, FileProblem("container", len(data), limit_bytes, mime)
    return mime, None


def _container_fits(data: bytes) -> bool:
    """A zip whose entries, unpacked, stay within the limits (read from its directory; the
    entries are not unpacked)."""
    try:
        entries = zipfile.ZipFile(BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    unpacked = sum(entry.file_size for entry in entries)
    return (len(entries) <= MAX_ENTRIES and unpacked <= MAX_UNPACKED
            and unpacked <= MAX_RATIO * max(len(data), 1))
