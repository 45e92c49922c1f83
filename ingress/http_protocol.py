"""uvicorn's httptools protocol with a bound on the request head, answering deliveries itself.

**Head limits.**

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

**Deliveries without ASGI.** A ``POST`` to a delivery route (:class:`Routes`, the app's
:class:`ingress.server.DirectRoutes`) is answered here, one of two ways:

- its body came with its head (most do): when the parser completes the message, the route's
  :meth:`Handler.respond` verifies it and queues its record right there, and the answer is
  written, head and body with one ``write``, from the record's delivery report. No task and
  no coroutine: they were the largest part of a delivery the profile could still name once
  uvicorn's ASGI cycle was gone (BENCHMARKS.md);
- otherwise (a body still arriving, ``Expect: 100-continue``, a pipelined request, or a
  handler that declines, e.g. to check a signature in a thread): :meth:`Handler.handle` in a
  task, the body read through uvicorn's ``receive`` (flow control, ``100-continue``).

A profile under load put uvicorn's part of a delivery (its ASGI cycle, the proxy-headers
middleware, the routing wrapper, two ASGI messages, two writes) at ~20 % of a delivery.
Everything else (other routes, lifespan, a request uvicorn would refuse for its concurrency
limit, a path under a ``root_path``, a trusted proxy's ``X-Forwarded-*`` headers, which
uvicorn's middleware applies) takes uvicorn's ASGI path unchanged. What a delivery keeps from
uvicorn: pipelined requests queued, keep-alive and its timeout (one timer per connection, not
one per request), ``Date`` and ``Server`` headers, a 500 (logged) for an exception, and
graceful shutdown, which waits for every connection with a request in progress (a delivery
answered without a task is not among uvicorn's tasks, so its concurrency limit counts
connections for it, not tasks).

The limits and routes are class attributes, set once per process by :func:`configure`
(``hookgate ingress`` sets them from the configuration before it serves, in every worker
process): uvicorn builds a protocol per connection from the class alone.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, cast

import httptools
import orjson
from starlette.types import Receive, Scope
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

_END = b"\r\n\r\n"
_FORWARDED = (b"x-forwarded-proto", b"x-forwarded-for")

Headers = list[tuple[bytes, bytes]]
#: A delivery's answer: status, JSON body, headers beyond content-type and content-length.
Answer = tuple[int, bytes, Headers]


#: Gets a delivery's answer, or the exception a bug raised (answered 500).
Reply = Callable[[Answer | Exception], None]


class Handler(Protocol):
    def respond(self, scope: Scope, body: bytes, reply: Reply) -> bool:
        """Answer the request of ``scope``, whose whole ``body`` is here, through ``reply``
        (now or later), or return False, having done nothing, for :meth:`handle` to."""
        ...

    async def handle(self, scope: Scope, receive: Receive, received: bytes | None) -> Answer:
        """The answer to the request of ``scope``: its body is ``received`` when the protocol
        has it all already, else read from ``receive``."""
        ...


class Routes(Protocol):
    def match(self, path: str) -> tuple[Handler, dict[str, Any]] | None:
        """The handler of a ``POST`` to ``path`` and its path parameters, or None."""
        ...


class HeadTooLarge(Exception):
    """Raised from the parser's header callback to stop it; answered with 431."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int] = 32_768
    max_headers: ClassVar[int] = 100
    routes: ClassVar[Routes | None] = None

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
        self._trusted_peer = False  # a proxy whose X-Forwarded-* headers uvicorn applies
        self._forwarded = False  # this request carries X-Forwarded-* headers
        # A delivery whose head is here and whose body is still being parsed (see _deliver).
        self._unstarted: DeliveryCycle | None = None
        # Loop time since which the connection has waited for a request, None while one is in
        # progress: the keep-alive timeout counts from there (see on_response_complete).
        self._idle_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # The peer is the same for every request on the connection: looked up once.
        app = self.app
        self._trusted_peer = (
            isinstance(app, ProxyHeadersMiddleware)
            and self.client is not None
            and self.client[0] in app.trusted_hosts
        )

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
        cycle = self._unstarted
        if cycle is not None:
            # Its body did not all come with this read: a task reads the rest (uvicorn's way).
            self._unstarted = None
            if not self.transport.is_closing():
                self._start_asgi_task(cycle, self.app)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            # Raising stops the parser before the request reaches the app; uvicorn answers a
            # parser error through send_400_response, which answers 431 for this one.
            self._refusal = f"the request has more than {self.max_headers} headers"
            raise HeadTooLarge(self._refusal)
        # uvicorn's on_header, in this one call per header, and the proxy's headers noted.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        elif name in _FORWARDED:
            self._forwarded = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        # Busy until this request's answer, also when an answer given within the same read
        # (see on_message_complete) marked the connection idle.
        self._idle_since = None
        if not self._deliver():
            super().on_headers_complete()

    def _deliver(self) -> bool:
        """Starts a delivery's handler and returns True if the request is one (module doc)."""
        routes = self.routes
        parser = self.parser
        if routes is None or parser.get_method() != b"POST" or self.root_path:
            return False
        if parser.should_upgrade():
            return False
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            return False  # uvicorn's 503
        if self._forwarded and self._trusted_peer:
            return False  # uvicorn's middleware rewrites the scope from them
        url = httptools.parse_url(self.url)
        raw_path: bytes = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        found = routes.match(path)
        if found is None:
            return False
        handler, params = found
        http_version = parser.get_http_version()
        # uvicorn's typed scope has no path_params: the app's view of it, as Starlette adds them.
        scope = cast(Scope, self.scope)
        scope["method"] = "POST"
        if http_version != "1.1":
            scope["http_version"] = http_version
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = url.query or b""
        scope["path_params"] = params
        previous = self.cycle
        self.cycle = cycle = DeliveryCycle(
            handler,
            scope,
            self.transport,
            self.flow,
            self.logger,
            self.access_logger,
            self.server_state.default_headers,
            self.expect_100_continue,
            http_version != "1.0" and parser.should_keep_alive(),
            self.on_response_complete,
        )
        if previous is not None and not previous.response_complete:
            # Pipelined: started once the previous answer is out (uvicorn's queue).
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))
        elif self.expect_100_continue:
            self._start_asgi_task(cycle, self.app)  # the body comes after an interim answer
        else:
            # Answered from on_message_complete if the body is all in this read (most are),
            # else by a task once the read is done (data_received).
            self._unstarted = cycle
        return True

    def _respond(self, cycle: DeliveryCycle) -> None:
        """Answer a delivery whose body is all here from the parser's callback, without a
        task (``Handler.respond``), or start its task if the handler wants one."""
        body = bytes(cycle.body)
        try:
            taken = cycle.handler.respond(cast(Scope, cycle.scope), body, cycle.reply)
        except Exception as exc:
            cycle.reply(exc)
            return
        if taken:
            cycle.body.clear()
        else:
            self._start_asgi_task(cycle, self.app)

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = self._header_count = 0
        self._tail = b""
        self._forwarded = False
        super().on_message_complete()
        cycle = self._unstarted
        if cycle is not None:
            self._unstarted = None
            if not self.transport.is_closing():  # e.g. an earlier answer in this read closed it
                self._respond(cycle)

    # Keep-alive: uvicorn arms a timer when a response is complete and cancels it when data
    # arrives, a timer made and cancelled per request (~2 % of a delivery in a profile under
    # load). Here a connection notes when it became idle, and one timer per connection, armed
    # only when none is, closes it once it has been idle for timeout_keep_alive, or re-arms
    # for what is left: the same timeout, at most one timer per timeout period.

    def on_response_complete(self) -> None:
        # uvicorn's, but for the timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def _unset_keepalive_if_required(self) -> None:
        # Called by uvicorn when data arrives (and when the connection is lost).
        self._idle_since = None

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None or self.transport.is_closing():
            return  # busy: the end of its response arms the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(
                left, self.timeout_keep_alive_handler
            )
        else:
            self.transport.close()

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


class DeliveryCycle(RequestResponseCycle):
    """One delivery on a connection: uvicorn's request state (the body as it arrives, through
    ``receive``), answered by a :class:`Handler` instead of an ASGI app."""

    def __init__(
        self,
        handler: Handler,
        scope: Any,
        transport: asyncio.Transport,
        flow: FlowControl,
        logger: logging.Logger,
        access_logger: logging.Logger,
        default_headers: Headers,
        expect_100_continue: bool,
        keep_alive: bool,
        on_response: Callable[[], None],
    ) -> None:
        super().__init__(
            scope,
            transport,
            flow,
            logger,
            access_logger,
            False,  # no access log: the delivery's own line
            default_headers,
            asyncio.Event(),
            expect_100_continue,
            keep_alive,
            on_response,
        )
        self.handler = handler

    async def run_asgi(self, app: Any) -> None:
        # ``app`` (uvicorn's, passed by its task starter) is not called: the handler answers.
        # The body, if it is all here already (it usually came with the head) and uvicorn's
        # receive would not first answer 100-continue or report a disconnection.
        received = None
        if not (self.more_body or self.waiting_for_100_continue or self.disconnected):
            received = bytes(self.body)
            self.body.clear()  # one copy held, as after uvicorn's receive
        try:
            status, body, headers = await self.handler.handle(
                cast(Scope, self.scope), cast(Receive, self.receive), received
            )
            if self.flow.write_paused and not self.disconnected:
                await self.flow.drain()
            self._answer(status, body, headers, _JSON)
        except BaseException as exc:
            self._fail(exc)
        finally:
            self.on_response = _nothing  # as uvicorn's: the protocol is not kept alive by it

    def reply(self, outcome: Answer | Exception) -> None:
        """The handler's answer from :meth:`Handler.respond`, or the exception a bug raised."""
        try:
            if isinstance(outcome, Exception):
                self._fail(outcome)
            else:
                status, body, headers = outcome
                self._answer(status, body, headers, _JSON)
        finally:
            self.on_response = _nothing

    def _fail(self, exc: BaseException) -> None:
        # As uvicorn answers an ASGI app's exception.
        self.logger.error("Exception in ASGI application\n", exc_info=exc)
        if not self.response_started:
            self._answer(500, b"Internal Server Error", _CLOSE, _TEXT)
        else:
            self.transport.close()

    def _answer(self, status: int, body: bytes, headers: Headers, content_type: bytes) -> None:
        # Closing without a disconnection noted: a pipelined request's connection, whose loss
        # uvicorn notes on the newest request only (uvloop refuses a write to a closed one).
        if self.disconnected or self.transport.is_closing():
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        if (b"connection", b"close") in headers:
            self.keep_alive = False
        elif not self.keep_alive:
            headers = [*headers, (b"connection", b"close")]
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    _joined(self.default_headers),
                    content_type,
                    b"content-length: %d\r\n" % len(body),
                    *[name + b": " + value + b"\r\n" for name, value in headers],
                    b"\r\n",
                    body,
                ]
            )
        )
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()


_JSON = b"content-type: application/json\r\n"
_TEXT = b"content-type: text/plain; charset=utf-8\r\n"
_CLOSE: Headers = [(b"connection", b"close")]
#: uvicorn's default headers (Date, Server) as bytes; it replaces the list once a second.
_defaults: tuple[Headers | None, bytes] = (None, b"")


def _joined(headers: Headers) -> bytes:
    global _defaults
    if _defaults[0] is not headers:
        _defaults = (headers, b"".join(name + b": " + value + b"\r\n" for name, value in headers))
    return _defaults[1]


def _nothing() -> None:
    pass


def configure(*, max_head_bytes: int, max_headers: int, routes: Routes | None = None) -> None:
    """Sets the limits of every connection this process accepts from now on, and the delivery
    routes it answers without ASGI (none: every request goes to the app)."""
    LimitedHttpToolsProtocol.max_head_bytes = max_head_bytes
    LimitedHttpToolsProtocol.max_headers = max_headers
    LimitedHttpToolsProtocol.routes = routes
