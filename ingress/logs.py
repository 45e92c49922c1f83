"""JSON logs to stdout: one object per line, one line per delivery.

The per-delivery line is on by default, so it has to be cheap; a profile of the ingress under
load put the stdlib path (record attributes, formatting, a write and a flush per line) at ~10 %
of a request. What :func:`configure` changes:

- records skip what no line prints: the caller's frame, thread, process names (the stdlib's
  documented ``logging`` switches);
- the formatter renders the timestamp's seconds once per second, and produces bytes;
- :class:`TickBatchedHandler` writes the lines of one event-loop tick with one ``write``, at the
  end of that tick (so never later than the requests that caused them are answered); records
  from other threads, and warnings and errors, are written at once;
- :func:`info` writes the per-delivery line straight to that handler, without a ``LogRecord``
  (building one, its level, filter and handler walk were still ~5 % of a delivery), whenever
  that gives the same line as ``logger.info`` would: the logger enabled for INFO, no filter and
  no other handler on its way to the root. Anything else (pytest's ``caplog``, a handler an
  operator adds) takes the standard path.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import Any, BinaryIO

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""
        self._msecs = -1
        self._text = ""

    def format(self, record: logging.LogRecord) -> str:
        return self.format_bytes(record).decode()

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        line = self.head(record.created, record.levelname.lower(), record.name, record.getMessage())
        # Fields passed with ``extra=`` become top-level keys.
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str)

    def head(self, created: float, level: str, logger: str, msg: str) -> dict[str, Any]:
        """The fields every line starts with."""
        return {"ts": self.timestamp(created), "level": level, "logger": logger, "msg": msg}

    def timestamp(self, created: float) -> str:
        """``created`` (epoch seconds) as the ``ts`` field: UTC, milliseconds, ``Z``."""
        second = int(created)
        # Milliseconds as logging.LogRecord computes its ``msecs``.
        msecs = int((created - second) * 1000)
        if msecs == self._msecs and second == self._second:
            # A busy ingress logs several lines a millisecond: the text is made once for them
            # (the formatting was ~1 % of a delivery, bench/ingress_ab.py).
            return self._text
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        self._msecs = msecs
        self._text = f"{self._stamp}.{msecs:03d}Z"
        return self._text


class TickBatchedHandler(logging.Handler):
    """JSON lines to a binary stream, one write per event-loop tick for the loop's records."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.formatter: JsonFormatter = JsonFormatter()
        self._stream = stream
        self._pending = bytearray()
        # The loop a flush is scheduled on; a loop closed before running it must not leave
        # later records waiting for a flush that never comes.
        self._flush_on: asyncio.AbstractEventLoop | None = None
        self._flush_thread = 0  # the thread that loop runs in

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        if not isinstance(fmt, JsonFormatter):
            raise TypeError("TickBatchedHandler writes JSON lines only")
        self.formatter = fmt

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending += self.formatter.format_bytes(record)
            self._pending += b"\n"
            if record.levelno >= logging.WARNING or not self._schedule():
                self._write()
        except Exception:
            self.handleError(record)

    def write_info(self, logger: str, msg: str, fields: dict[str, Any]) -> None:
        """The line ``emit`` would write for an INFO record with ``fields`` as its extra."""
        ts = self.formatter.timestamp(time.time())
        line = {"ts": ts, "level": "info", "logger": logger, "msg": msg, **fields}
        data = orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE)
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._pending += data
            if not self._schedule():
                self._write()

    def _schedule(self) -> bool:
        """True when a flush at the end of this loop tick is (already) scheduled."""
        # A flush already scheduled on the loop running in this thread: this record is on that
        # loop too. Checked first because asyncio.get_running_loop() is a getpid() system call
        # per call on Python 3.11, and this runs per delivery.
        flush_on = self._flush_on
        if (
            flush_on is not None
            and self._flush_thread == threading.get_ident()
            and flush_on.is_running()
        ):
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop's thread
            return False
        if self._flush_on is not loop:
            loop.call_soon(self.flush)
            self._flush_on = loop
            self._flush_thread = threading.get_ident()
        return True

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._flush_on = None
            self._write()

    def _write(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending.clear()
            self._stream.flush()

    def close(self) -> None:
        self.flush()
        super().close()


def info(logger: logging.Logger, msg: str, fields: dict[str, Any]) -> None:
    """``logger.info(msg, extra=fields)``; straight to the handler when the line would be the
    same (see the module's doc)."""
    handler = _only_handler(logger)
    if handler is None:
        logger.info(msg, extra=fields)
    elif handler.level <= logging.INFO:
        handler.write_info(logger.name, msg, fields)


def _only_handler(logger: logging.Logger) -> TickBatchedHandler | None:
    """The one handler an INFO record of ``logger`` would reach, if it is a
    :class:`TickBatchedHandler` without filters and nothing on the way filters."""
    if not logger.isEnabledFor(logging.INFO):
        return None
    found: TickBatchedHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not TickBatchedHandler or handler.filters:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def configure(level: str = "INFO") -> None:
    # Nothing in a line needs them; each costs a lookup per record (documented switches).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no stack walk for the caller's file and line
    sys.stdout.flush()
    handler = TickBatchedHandler(sys.stdout.buffer)
    root = logging.getLogger()
    for previous in root.handlers:
        previous.flush()
    root.handlers[:] = [handler]
    root.setLevel(level)
