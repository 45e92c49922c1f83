"""uvicorn's httptools protocol with a bound on the request head (request line and headers).

httptools puts no limit on a head: it appends each piece of a header value to the bytes it has
so far, so one 128 MiB header cost 19 s of CPU and stalled every other request on the loop.
uvicorn's h11 protocol bounds it (``h11_max_incomplete_event_size``) but costs twice the CPU per
request (BENCHMARKS.md), so the fast parser stays and this class bounds what reaches it:

- the head's size is counted *before* the parser sees the bytes; once it passes
  ``max_head_bytes`` without ending, the answer is 431 and the connection closes, whatever is
  still on its way;
- headers are counted as the parser reports them; one more than ``max_headers`` is a 431 too.

A head is counted from the first read after the previous request ended; with pipelined
requests the part of the next head that shares a read with the previous body goes uncounted,
at most one read (which the head limit then still bounds from the next read on).

The limits are class attributes, set once per process by :func:`configure` (``hookgate ingress``
sets them from the configuration before it serves, in every worker process): uvicorn builds a
protocol per connection from the class alone.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

_END = b"\r\n\r\n"


class HeadTooLarge(Exception):
    """Raised from the parser's header callback to stop it; answered with 431."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int] = 32_768
    max_headers: ClassVar[int] = 100

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True  # a head is (or the next one will be) arriving
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far: the end may straddle two reads
        self._header_count = 0
        self._refusal: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            seen = self._tail + data
            end = seen.find(_END)
            size = self._head_bytes + (len(data) if end < 0 else end + len(_END) - len(self._tail))
            if size > self.max_head_bytes:
                self._refuse(f"the request head exceeds {self.max_head_bytes} bytes")
                return
            if end < 0:
                self._head_bytes = size
                self._tail = seen[-(len(_END) - 1) :]
        super().data_received(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            # Raising stops the parser before the request reaches the app; uvicorn answers a
            # parser error through send_400_response, which answers 431 for this one.
            self._refusal = f"the request has more than {self.max_headers} headers"
            raise HeadTooLarge(self._refusal)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = self._header_count = 0
        self._tail = b""
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(self._refusal)

    def _refuse(self, detail: str) -> None:
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": "header_too_large", "detail": detail})
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def configure(*, max_head_bytes: int, max_headers: int) -> None:
    """Sets the limits of every connection this process accepts from now on."""
    LimitedHttpToolsProtocol.max_head_bytes = max_head_bytes
    LimitedHttpToolsProtocol.max_headers = max_headers
