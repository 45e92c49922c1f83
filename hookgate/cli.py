"""The ``hookgate`` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from schemas import config

DESCRIPTION = """\
Hookgate: verified webhook deliveries in, de-duplicated CloudEvents out, on Kafka.

Start here:  hookgate dev            (local broker + ingress + worker, with a demo source)
Then:        hookgate send demo      (sign a sample delivery and POST it)
             hookgate tail canonical (watch the canonical event come out)
"""


def _config_arg(parser: argparse.ArgumentParser, *, dev_default: bool = False) -> None:
    default = "the bundled development config" if dev_default else "$HOOKGATE_CONFIG"
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help=f"YAML configuration file (default: {default})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hookgate",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="run the whole pipeline locally (broker included)")
    _config_arg(dev, dev_default=True)

    ingress = commands.add_parser("ingress", help="run the ingress HTTP service (production)")
    _config_arg(ingress)
    ingress.add_argument("--log-level", default="INFO")
    ingress.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (default 1)"
    )

    worker = commands.add_parser("worker", help="run the stream worker (production)")
    _config_arg(worker)
    worker.add_argument("--log-level", default="info")

    kafka = commands.add_parser("kafka", help="manage the local development Kafka broker")
    kafka.add_argument(
        "action",
        choices=["start", "stop", "status", "wipe"],
        help="start (idempotent, prints the bootstrap address), stop (SIGTERM), "
        "status, or wipe (stop and delete its data)",
    )

    topics = commands.add_parser("topics", help="create the configured topics")
    topics.add_argument(
        "action", choices=["ensure"], help="create missing topics; report partition mismatches"
    )
    _config_arg(topics, dev_default=True)

    send = commands.add_parser("send", help="sign a sample payload as the provider would; POST it")
    send.add_argument("source", help="configured source name, e.g. demo")
    _config_arg(send, dev_default=True)
    send.add_argument("--url", help="ingress URL (default: from the config's ingress section)")
    send.add_argument("--payload", type=Path, help="body to send (default: a bundled sample)")
    send.add_argument("--id", dest="event_id", help="event id (default: a new random one)")
    send.add_argument(
        "--signing-key",
        help="the sender's private key, for providers that sign with one (fal: base64 of a "
        "32-byte Ed25519 seed); default with the bundled development config: its dev key",
    )
    send.add_argument(
        "--times",
        type=int,
        default=1,
        help="send the same delivery N times, as a retrying sender would",
    )

    config_cmd = commands.add_parser("config", help="the configuration file's schema and checks")
    config_cmd.add_argument(
        "action",
        choices=["schema", "check"],
        help="schema: print the JSON Schema generated from the models (--write publishes it to "
        "schemas/json/config.v1.schema.json); check: validate a file as every process does "
        "at start",
    )
    _config_arg(config_cmd)
    config_cmd.add_argument(
        "--write", action="store_true", help="schema: write the published file instead of printing"
    )

    openapi_cmd = commands.add_parser(
        "openapi", help="print the ingress's OpenAPI description (GET /openapi.json)"
    )
    openapi_cmd.add_argument(
        "--write", action="store_true", help="write the shipped ingress/openapi.json instead"
    )

    tail = commands.add_parser("tail", help="print records of a topic as they arrive")
    tail.add_argument("kind", choices=["raw", "canonical", "dlq"])
    _config_arg(tail, dev_default=True)
    tail.add_argument("--json", action="store_true", help="one JSON object per line, for tools")
    tail.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the oldest retained record instead of new ones only",
    )
    tail.add_argument("--max", type=int, default=None, help="stop after N records")

    replay = commands.add_parser(
        "replay",
        help="reset a consumer group to a time, so it reads (the worker: re-emits) from there",
        description="Reset a consumer group's offsets, per partition, to the first record at or "
        "after --from. Default: the worker's group on the raw topic, so the worker re-emits the "
        "canonical events from that time, marked ce_replay=true. The group must have no running "
        "members.",
    )
    _config_arg(replay, dev_default=True)
    replay.add_argument(
        "--from",
        dest="from_time",
        required=True,
        metavar="TIME",
        help="ISO 8601 time (2026-11-30T10:00:00Z; no zone = UTC) or a duration ago (90m, 2h)",
    )
    replay.add_argument(
        "--to",
        dest="to_time",
        metavar="TIME",
        help="worker group only: records from this time on, already processed, are read again "
        "but not re-emitted",
    )
    replay.add_argument("--group", help="consumer group (default: the worker's, worker.app_id)")
    replay.add_argument(
        "--topic",
        default="raw",
        help="raw, canonical, or a topic name (default: raw; a group other than the worker's "
        "needs --group)",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="print the per-partition plan; change nothing"
    )

    verify = commands.add_parser(
        "verify-raw",
        help="re-verify a raw record's signature with its source's current secrets",
    )
    verify.add_argument(
        "coordinates",
        metavar="TOPIC:PARTITION:OFFSET",
        help="the raw record, e.g. from a canonical event's rawtopic/rawpartition/rawoffset",
    )
    _config_arg(verify, dev_default=True)

    dlq = commands.add_parser("dlq", help="list dead letters, or redrive them after a fix")
    dlq_actions = dlq.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    dlq_list = dlq_actions.add_parser("list", help="counts by reason and source, then letters")
    _config_arg(dlq_list, dev_default=True)
    dlq_list.add_argument("--reason", help="only this reason (e.g. normalization_failed)")
    dlq_list.add_argument(
        "--since", metavar="TIME", help="only letters written since (ISO 8601, or 90m, 2h, 1d)"
    )
    dlq_redrive = dlq_actions.add_parser(
        "redrive",
        help="send dead letters back through the worker; each letter at most once",
    )
    _config_arg(dlq_redrive, dev_default=True)
    dlq_redrive.add_argument("--reason", help="only this reason (e.g. normalization_failed)")
    dlq_redrive.add_argument(
        "--dry-run", action="store_true", help="print what would be redriven; send nothing"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except config.ConfigError as exc:
        print(f"hookgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dev_config_path() -> Path:
    return Path(str(resources.files("hookgate.samples").joinpath("dev.yaml")))


def _settings(args: argparse.Namespace, *, dev_default: bool) -> tuple[config.Settings, Path]:
    path: Path | None = args.config
    if path is None and dev_default and not _env_config():
        path = _dev_config_path()
    settings = config.load(path)
    return settings, Path(settings.origin)


def _env_config() -> str | None:
    return os.environ.get("HOOKGATE_CONFIG")


def _dispatch(args: argparse.Namespace) -> int:
    # Imports are per command: `hookgate send` should not pay for importing Faust.
    if args.command == "ingress":
        from ingress.server import serve

        serve(
            _settings(args, dev_default=False)[0],
            log_level=args.log_level,
            workers=args.workers,
        )
        return 0
    if args.command == "worker":
        from streams.worker import run as run_worker

        run_worker(_settings(args, dev_default=False)[0], log_level=args.log_level)
        return 0
    if args.command == "kafka":
        return _kafka(args.action)
    if args.command == "topics":
        from hookgate.topics import TopicsError, ensure

        settings, _ = _settings(args, dev_default=True)
        print(f"topics on {settings.kafka.bootstrap}:")
        try:
            results = ensure(settings)
        except TopicsError as exc:
            print(f"hookgate: {exc}", file=sys.stderr)
            return 1
        return 1 if any(r.action == "mismatch" for r in results) else 0
    if args.command == "send":
        return _send(args)
    if args.command == "config":
        return _config(args)
    if args.command == "openapi":
        return _openapi(args)
    if args.command == "tail":
        from hookgate.tail import tail

        settings, _ = _settings(args, dev_default=True)
        print(
            f"tailing {args.kind} on {settings.kafka.bootstrap} (Ctrl-C to stop)", file=sys.stderr
        )
        tail(
            settings,
            args.kind,
            as_json=args.json,
            from_beginning=args.from_beginning,
            max_records=args.max,
        )
        return 0
    if args.command == "replay":
        return _replay(args)
    if args.command == "verify-raw":
        return _verify_raw(args)
    if args.command == "dlq":
        return _dlq(args)
    if args.command == "dev":
        from hookgate.dev import DevError
        from hookgate.dev import run as run_dev
        from hookgate.kafka_local import LocalKafkaError
        from hookgate.topics import TopicsError

        settings, path = _settings(args, dev_default=True)
        try:
            return run_dev(settings, path)
        except (DevError, LocalKafkaError, TopicsError) as exc:
            print(f"hookgate dev: {exc}", file=sys.stderr)
            return 1
    raise AssertionError(args.command)


def _kafka(action: str) -> int:
    from hookgate.dev import local_kafka
    from hookgate.kafka_local import LocalKafkaError

    kafka = local_kafka()
    try:
        if action == "start":
            print(kafka.start())
        elif action == "stop":
            if not kafka.stop():
                print("the local broker is not running")
        elif action == "status":
            status = kafka.status()
            state = f"running (pid {status.pid})" if status.running else "stopped"
            print(f"local broker {state}; bootstrap {status.bootstrap}; home {status.home}")
            return 0 if status.running else 3
        else:
            kafka.wipe()
            print(f"wiped {kafka.status().home}")
    except LocalKafkaError as exc:
        print(f"hookgate kafka {action}: {exc}", file=sys.stderr)
        return 1
    return 0


def _send(args: argparse.Namespace) -> int:
    from hookgate.send import SendError, dev_signing_key, send

    settings, path = _settings(args, dev_default=True)
    signing_key = args.signing_key
    if signing_key is None and path.resolve() == _dev_config_path().resolve():
        signing_key = dev_signing_key(args.source)
    body = args.payload.read_bytes() if args.payload else None
    event_id = args.event_id
    failures = 0
    for _ in range(max(1, args.times)):
        try:
            result = send(
                settings,
                args.source,
                url=args.url,
                body=body,
                event_id=event_id,
                signing_key=signing_key,
            )
        except SendError as exc:
            print(f"hookgate send: {exc}", file=sys.stderr)
            return 1
        event_id = result.event_id  # retries repeat the same event
        print(f"{result.status} {result.body}  (event id {result.event_id})")
        failures += result.status >= 300
    return 1 if failures else 0


def _config(args: argparse.Namespace) -> int:
    if args.action == "check":
        settings, _ = _settings(args, dev_default=False)
        print(f"{settings.origin}: valid ({len(settings.sources)} sources)")
        return 0
    return _publish(config.json_schema_text(), config.SCHEMA_PATH, write=args.write)


def _openapi(args: argparse.Namespace) -> int:
    from ingress import openapi  # the ingress's modules only for the command that needs them

    return _publish(openapi.text(), openapi.PATH, write=args.write)


def _publish(text: str, path: Path, *, write: bool) -> int:
    """A generated file: written to where it is published (``--write``), else printed."""
    if write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)
    return 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _replay(args: argparse.Namespace) -> int:
    from hookgate.replay import ReplayError, Request, replay
    from hookgate.timespec import TimeSpecError, parse_ms

    settings, _ = _settings(args, dev_default=True)
    worker_group = settings.worker.app_id
    topic = {
        "raw": settings.topics.raw.name,
        "canonical": settings.topics.canonical.name,
    }.get(args.topic, args.topic)
    group = args.group or worker_group
    if topic != settings.topics.raw.name and args.group is None:
        print(
            "hookgate replay: --topic other than raw needs --group (the worker's group reads "
            "only the raw topic)",
            file=sys.stderr,
        )
        return 2
    try:
        now = _now_ms()
        request = Request(
            group=group,
            topic=topic,
            from_ms=parse_ms(args.from_time, now),
            to_ms=parse_ms(args.to_time, now) if args.to_time else None,
            worker=group == worker_group and topic == settings.topics.raw.name,
        )
        replay(settings, request, dry_run=args.dry_run)
    except (ReplayError, TimeSpecError) as exc:
        print(f"hookgate replay: {exc}", file=sys.stderr)
        return 1
    return 0


def _verify_raw(args: argparse.Namespace) -> int:
    from hookgate.verify_raw import VerifyRawError, parse_coordinates, verify_raw

    settings, _ = _settings(args, dev_default=True)
    try:
        outcome = verify_raw(settings, parse_coordinates(args.coordinates))
    except VerifyRawError as exc:
        print(f"hookgate verify-raw: {exc}", file=sys.stderr)
        return 2
    return outcome.verdict.value


def _dlq(args: argparse.Namespace) -> int:
    from hookgate.dlq import DlqError, list_letters, redrive
    from hookgate.timespec import TimeSpecError, parse_ms

    settings, _ = _settings(args, dev_default=True)
    try:
        if args.dlq_action == "list":
            since = parse_ms(args.since, _now_ms()) if args.since else None
            list_letters(settings, reason=args.reason, since_ms=since)
        else:
            redrive(settings, reason=args.reason, dry_run=args.dry_run)
    except (DlqError, TimeSpecError) as exc:
        print(f"hookgate dlq {args.dlq_action}: {exc}", file=sys.stderr)
        return 1
    return 0
