"""Files from users: checked by content (type, size, not empty) and kept in the file store
with their checksum before anything refers to them."""

from __future__ import annotations

from core.files import FileProblem, check_file
from core.i18n import Translator
from core.messages import IncomingFile
from handlers.context import Context
from storage.models import StoredFile


async def store(ctx: Context, incoming: IncomingFile) -> tuple[StoredFile | None, str | None]:
    """(the stored file, None) or (None, the message telling the user what is wrong)."""
    mime, problem = check_file(incoming.data, ctx.settings.max_file_bytes, incoming.name)
    if problem is not None:
        return None, problem_text(ctx.t, incoming.name, problem)
    return await keep(ctx, incoming.data, incoming.name, mime), None


async def keep(ctx: Context, data: bytes, name: str, mime: str) -> StoredFile:
    """Put `data` in the file store and record it, so an outbox row can refer to it."""
    return await record(ctx, ctx.files.put(data), len(data), name, mime)


async def record(ctx: Context, sha256: str, size: int, name: str, mime: str) -> StoredFile:
    """Record a file already in the file store (put there outside the transaction)."""
    row = StoredFile(sha256=sha256, size=size, mime_type=mime, original_name=name[:255],
                     created_at=ctx.now)
    ctx.session.add(row)
    await ctx.session.flush()
    return row


def problem_text(t: Translator, name: str, problem: FileProblem) -> str:
    """What to tell the user about a refused file, on any channel or the upload page."""
    if problem.code == "empty":
        return t("Tệp «{name}» trống (0 byte). Hãy gửi lại tệp có nội dung.", name=name)
    if problem.code == "too_large":
        return t("Tệp «{name}» nặng {size} MB, quá giới hạn {limit} MB. Hãy nén hoặc "
                 "chia nhỏ tệp rồi gửi lại.", name=name,
                 size=t.number(round(problem.size / 1048576, 1)),
                 limit=t.number(problem.limit // 1048576))
    if problem.code == "wrong_name":
        return t("Nội dung tệp «{name}» không đúng với tên tệp (ví dụ một trang web đặt tên "
                 ".docx). Hãy mở lại tệp gốc, lưu đúng định dạng rồi gửi lại.", name=name)
    if problem.code == "container":
        return t("Tệp «{name}» khi giải nén quá lớn hoặc có quá nhiều tệp bên trong, nên không "
                 "được nhận. Hãy gửi từng tệp báo cáo.", name=name)
    return t("Tệp «{name}» không phải loại được nhận. Hãy gửi PDF, Word, Excel, "
             "PowerPoint, ảnh (JPG, PNG) hoặc tệp nén ZIP.", name=name)
