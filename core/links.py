"""Signed, expiring links (`/u/<token>` upload pages, `/f/<token>` file downloads).

A token is the base64url JSON of its fields, a dot and the HMAC-SHA256 of that text under
the bot's secret key. The fields carry their own expiry; single use is the caller's business
(the nonce goes into `seen_event` when the link is used)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime


class LinkError(Exception):
    """`code` is `tampered` (bad signature or shape) or `expired`."""

    def __init__(self, code: str, expired_at: datetime | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.expired_at = expired_at


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign(secret: str, kind: str, fields: list[str | int], expires: datetime) -> str:
    """A token of `kind` carrying `fields`, valid until `expires`."""
    body = _b64(json.dumps([kind, int(expires.timestamp()), *fields],
                           separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_mac(secret, body)}"


MAX_TOKEN = 2048  # characters; the bot's own tokens are a few hundred
MAX_ID = 2**31 - 1  # ids fit the databases' integer columns


def verify(secret: str, kind: str, token: str,
           now: datetime) -> tuple[datetime, list[str | int]]:
    """(expiry, fields) of a genuine, unexpired token of `kind`; raises LinkError otherwise,
    also for a malformed token (any characters, any length, an absurd expiry)."""
    body, _, mac = token.partition(".")
    if not body or len(token) > MAX_TOKEN or not hmac.compare_digest(
            mac.encode("utf-8", "replace"), _mac(secret, body).encode()):
        raise LinkError("tampered")
    try:
        data = json.loads(_unb64(body))
    except ValueError as exc:
        raise LinkError("tampered") from exc
    if not isinstance(data, list) or len(data) < 2 or data[0] != kind or \
            not isinstance(data[1], int) or isinstance(data[1], bool):
        raise LinkError("tampered")
    try:
        expires = datetime.fromtimestamp(data[1], UTC)
    except (OverflowError, OSError, ValueError) as exc:  # years beyond 9999, or before 1
        raise LinkError("tampered") from exc
    if now >= expires:
        raise LinkError("expired", expires)
    return expires, data[2:]


@dataclass(frozen=True)
class UploadClaim:
    """Who may upload through a link, in answer to which bot message (the task it is for)."""

    member_id: int
    target_id: int  # 0 when the link is not for one task
    reply_to: str  # platform id of the bot message the file answers, "" if none
    expires: datetime
    nonce: str

    def token(self, secret: str) -> str:
        return sign(secret, "u", [self.member_id, self.target_id, self.reply_to, self.nonce],
                    self.expires)

    @classmethod
    def new(cls, member_id: int, target_id: int, reply_to: str,
            expires: datetime) -> UploadClaim:
        return cls(member_id, target_id, reply_to, expires, secrets.token_urlsafe(12))

    @classmethod
    def read(cls, secret: str, token: str, now: datetime) -> UploadClaim:
        expires, fields = verify(secret, "u", token, now)
        try:
            member_id, target_id, reply_to, nonce = fields
            claim = cls(int(member_id), int(target_id), str(reply_to), expires, str(nonce))
        except (TypeError, ValueError) as exc:
            raise LinkError("tampered") from exc
        if not (0 < claim.member_id <= MAX_ID and 0 <= claim.target_id <= MAX_ID):
            raise LinkError("tampered")
        return claim
