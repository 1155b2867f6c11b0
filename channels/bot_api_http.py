"""python-telegram-bot's HTTP requests over aiohttp instead of its default httpx.

Why: at hundreds of messages a second the sender was CPU-bound, and a fifth of a worker's
CPU went to httpx and httpcore (the pool checks every idle connection with a system call
before each request). aiohttp does the same requests for a fraction of that. PTB keeps
everything else: it builds the parameters, reads the answers and turns errors into
`RetryAfter`, `Forbidden` and so on; this class only moves the bytes.
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DefaultTimeout = float | None | object  # PTB passes `BaseRequest.DEFAULT_NONE` when unset


class AiohttpRequest(BaseRequest):
    """One aiohttp session for a bot's calls (PTB keeps a second one for getUpdates).
    Timeouts as PTB's defaults: 5 s to connect and to read, uploads 20 s."""

    def __init__(self, connections: int = 256, read_timeout: float | None = 5.0,
                 connect_timeout: float | None = 5.0, media_timeout: float = 20.0) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._media_timeout = media_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _timeout(self, value: DefaultTimeout, default: float | None) -> float | None:
        return default if value is BaseRequest.DEFAULT_NONE else value  # type: ignore[return-value]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: DefaultTimeout = BaseRequest.DEFAULT_NONE,
        write_timeout: DefaultTimeout = BaseRequest.DEFAULT_NONE,
        connect_timeout: DefaultTimeout = BaseRequest.DEFAULT_NONE,
        pool_timeout: DefaultTimeout = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else {}
        fields = request_data.json_parameters if request_data else {}
        body: aiohttp.FormData | dict[str, str] | None = fields or None
        read = self._timeout(read_timeout, self._read_timeout)
        if files:
            form = aiohttp.FormData(fields)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
            written = self._timeout(write_timeout, self._media_timeout)
            read = None if read is None or written is None else read + written
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=read,
            sock_connect=self._timeout(connect_timeout, self._connect_timeout))
        try:
            async with self._session.request(method, url, data=body,
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
