"""The ingress's JSON log lines: one object per line, written by the end of the loop tick."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from ingress import logs
from ingress.logs import JsonFormatter, TickBatchedHandler


@pytest.fixture
def stream() -> io.BytesIO:
    return io.BytesIO()


@pytest.fixture
def log(stream: io.BytesIO) -> Iterator[logging.Logger]:
    logger = logging.getLogger("hookgate.test.logs")
    handler = TickBatchedHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.removeHandler(handler)
    handler.close()


def lines(stream: io.BytesIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_lines_logged_on_the_loop_are_written_together_at_the_end_of_the_tick(
    log: logging.Logger, stream: io.BytesIO
) -> None:
    for n in range(3):
        log.info("delivery", extra={"event_id": f"msg_{n}", "status": 200})
    assert stream.getvalue() == b""
    await asyncio.sleep(0)
    assert [line["event_id"] for line in lines(stream)] == ["msg_0", "msg_1", "msg_2"]


async def test_warnings_are_written_at_once_with_what_was_pending(
    log: logging.Logger, stream: io.BytesIO
) -> None:
    log.info("delivery", extra={"event_id": "msg_1"})
    log.warning("kafka: broker down")
    assert [line["msg"] for line in lines(stream)] == ["delivery", "kafka: broker down"]


def test_lines_logged_off_the_loop_are_written_at_once(
    log: logging.Logger, stream: io.BytesIO
) -> None:
    thread = threading.Thread(target=log.info, args=("from librdkafka's thread",))
    thread.start()
    thread.join()
    log.info("no loop here")
    assert [line["msg"] for line in lines(stream)] == ["from librdkafka's thread", "no loop here"]


def test_a_loop_closed_before_its_flush_does_not_hold_back_later_lines(
    log: logging.Logger, stream: io.BytesIO
) -> None:
    async def log_and_stop() -> None:
        log.info("first loop")
        asyncio.get_running_loop().stop()  # before the next tick, where the flush would run

    loop = asyncio.new_event_loop()
    task = loop.create_task(log_and_stop())
    loop.run_forever()
    assert task.done()
    loop.close()
    assert stream.getvalue() == b""

    async def log_and_yield() -> None:
        log.info("second loop")
        await asyncio.sleep(0)

    asyncio.run(log_and_yield())
    assert [line["msg"] for line in lines(stream)] == ["first loop", "second loop"]


async def test_closing_the_handler_writes_what_is_pending(stream: io.BytesIO) -> None:
    handler = TickBatchedHandler(stream)
    handler.handle(logging.LogRecord("hookgate", logging.INFO, "f", 1, "last words", None, None))
    handler.close()
    assert [line["msg"] for line in lines(stream)] == ["last words"]


def test_lines_in_one_millisecond_share_its_timestamp_and_the_next_one_moves_on() -> None:
    formatter = JsonFormatter()
    stamps = [
        formatter.timestamp(created)
        for created in (
            1_795_000_000.2501,
            1_795_000_000.2509,
            1_795_000_000.2511,
            1_795_000_001.2511,
        )
    ]
    assert stamps == [
        "2026-11-18T11:06:40.250Z",
        "2026-11-18T11:06:40.250Z",
        "2026-11-18T11:06:40.251Z",
        "2026-11-18T11:06:41.251Z",
    ]


def test_a_line_is_one_json_object_with_the_extra_fields_and_a_utc_timestamp() -> None:
    formatter = JsonFormatter()
    rendered = []
    for created in (1_795_000_000.25, 1_795_000_000.5, 1_795_000_001.0):
        record = logging.LogRecord("hookgate.ingress", logging.INFO, "f", 1, "delivery", None, None)
        record.created, record.msecs = created, (created % 1) * 1000
        record.source = "demo"
        rendered.append(json.loads(formatter.format(record)))
    assert [r["ts"] for r in rendered] == [
        "2026-11-18T11:06:40.250Z",
        "2026-11-18T11:06:40.500Z",
        "2026-11-18T11:06:41.000Z",
    ]
    assert rendered[0] == {
        "ts": "2026-11-18T11:06:40.250Z",
        "level": "info",
        "logger": "hookgate.ingress",
        "msg": "delivery",
        "source": "demo",
    }


# --- logs.info: the per-delivery line without a LogRecord, when that changes nothing ---------

FIELDS = {"source": "demo", "event_id": "msg_1", "status": 200, "bytes": 12, "duration_ms": 0.5}


def only(log: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest's own capture handlers would send every line down logging's path.
    kept = [h for h in log.handlers if isinstance(h, TickBatchedHandler)]
    monkeypatch.setattr(log, "handlers", kept)


def without_time(line: dict[str, object]) -> dict[str, object]:
    assert isinstance(line["ts"], str)
    assert line["ts"].endswith("Z")
    return {k: v for k, v in line.items() if k != "ts"}


async def test_the_direct_line_is_the_line_logging_writes(
    log: logging.Logger, stream: io.BytesIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler would format no record: the line comes from logs.info itself.
    only(log, monkeypatch)
    monkeypatch.setattr(TickBatchedHandler, "emit", None)
    logs.info(log, "delivery", dict(FIELDS))
    monkeypatch.undo()
    log.info("delivery", extra=dict(FIELDS))
    await asyncio.sleep(0)
    direct, standard = lines(stream)
    assert without_time(direct) == without_time(standard)
    assert list(direct) == list(standard)  # the same keys in the same order


async def test_with_another_handler_or_a_filter_the_line_takes_logging_s_path(
    log: logging.Logger, stream: io.BytesIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    only(log, monkeypatch)
    seen: list[logging.LogRecord] = []

    class Recording(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    other = Recording()
    log.addHandler(other)
    try:
        logs.info(log, "delivery", dict(FIELDS))
    finally:
        log.removeHandler(other)
    assert [(r.getMessage(), r.event_id) for r in seen] == [("delivery", "msg_1")]  # type: ignore[attr-defined]

    log.addFilter(lambda record: False)
    try:
        logs.info(log, "delivery", dict(FIELDS))
    finally:
        log.filters.clear()
    await asyncio.sleep(0)
    assert [line["event_id"] for line in lines(stream)] == ["msg_1"]  # only the first


async def test_no_direct_line_below_the_logger_s_level(
    log: logging.Logger, stream: io.BytesIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    only(log, monkeypatch)
    log.setLevel(logging.WARNING)
    logs.info(log, "delivery", dict(FIELDS))
    await asyncio.sleep(0)
    assert stream.getvalue() == b""
