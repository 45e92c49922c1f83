"""Two or more revisions of `hookgate ingress`, measured at the same time: a change's A/B.

    .venv/bin/python bench/ingress_ab.py 56e144a .              # a revision against the tree
    .venv/bin/python bench/ingress_ab.py . .+nolog --rounds 8   # the log line's cost

bench/ingress.py measures one server after another, 5 s each. On this shared machine one 5-s
measurement of the same server moves by 15-25 % from round to round, more than most single
changes, so its per-change figures needed many paired rounds. Here every server runs at once,
all pinned to CPU 0, each under its own `wrk -t1 -c32` on CPU 1 for the same seconds: whatever
the neighbours do to the CPU (cache, frequency, steal) happens to all of them alike, and the
ratio of their CPU per request holds from round to round (issue 11's fifth round: the log
line's cost came out at 0.92-0.93x in every one of 6 rounds). Absolute figures are higher
than bench/ingress.py's: the servers share a core and its caches.

A revision is anything `git archive` takes, or `.` for the working tree (its tracked files as
they are now); `+nolog` runs it with `--log-level WARNING` (no per-delivery line). Starts a
local broker unless `--bootstrap`. Prints each round, each server's median CPU per request
and its per-round ratio to the first server; writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingress import (
    ROOT,
    Server,
    broker,
    cpu_seconds,
    ensure_wrk,
    hookgate_config,
    log,
    results_path,
    run_wrk,
    signed,
    wrk_script,
)
from tests.support import free_ports

NOLOG = "+nolog"


def tree_of(revision: str, workdir: Path, index: int) -> Path:
    """A directory holding ``revision``'s tracked files, where ``python -m hookgate`` runs it."""
    tree = workdir / f"tree{index}"
    tree.mkdir()
    if revision == ".":
        files = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
        ).stdout
        archive = subprocess.run(
            ["tar", "-c", "-C", str(ROOT), "--null", "-T", "-"],
            input=files,
            capture_output=True,
            check=True,
        ).stdout
    else:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
        ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("revisions", nargs="+", help="git revisions, '.', each optionally +nolog")
    parser.add_argument("--source", choices=("hmac", "ed25519"), default="hmac")
    parser.add_argument("--size", type=int, default=1024, help="body bytes (default 1024)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/...)")
    args = parser.parse_args()
    if len(args.revisions) < 2:
        parser.error("give at least two revisions to compare")
    ensure_wrk()
    names = [f"{i}:{revision}" for i, revision in enumerate(args.revisions)]
    path = "/webhooks/sw" if args.source == "hmac" else "/webhooks/fal"
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="hookgate-ab-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        bootstrap = stack.enter_context(broker(workdir, args.bootstrap))
        servers: dict[str, Server] = {}
        ports = free_ports(len(names))
        for index, (name, revision, port) in enumerate(
            zip(names, args.revisions, ports, strict=True)
        ):
            tree = tree_of(revision.removesuffix(NOLOG), workdir, index)
            config, _ = hookgate_config(workdir, bootstrap, f"ab{uuid.uuid4().hex[:6]}", port, 0)
            command = [sys.executable, "-m", "hookgate", "ingress", "--config", str(config)]
            if revision.endswith(NOLOG):
                command += ["--log-level", "WARNING"]
            servers[name] = Server(f"server{index}", port, command, cpu="0", cwd=tree)
        for server in servers.values():
            stack.callback(server.stop)
        for server in servers.values():
            server.start(workdir)
        for server in servers.values():
            server.wait_ready(workdir)
        headers, body = signed(args.source, args.size, f"evt_{uuid.uuid4().hex[:8]}")
        script = workdir / "delivery.lua"
        script.write_text(wrk_script(headers, body))
        urls = {name: f"http://127.0.0.1:{server.port}{path}" for name, server in servers.items()}
        log(f"servers up: {', '.join(names)}; warming up")
        for url in urls.values():
            run_wrk("1", url, script, 2)
        with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
            for round_no in range(1, args.rounds + 1):
                pids = {
                    name: server.process.pid for name, server in servers.items() if server.process
                }
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                running = {
                    name: pool.submit(run_wrk, "1", url, script, args.seconds, 32)
                    for name, url in urls.items()
                }
                done = {name: future.result() for name, future in running.items()}
                after = {name: cpu_seconds(pid) for name, pid in pids.items()}
                for name, figures in done.items():
                    served = max(1, figures["requests"])
                    cpu_us = (after[name] - before[name]) / served * 1e6
                    rounds[name].append(
                        {
                            "rate": figures["rate"],
                            "cpu_us_per_request": cpu_us,
                            "non_2xx": figures["non_2xx"],
                        }
                    )
                first = rounds[names[0]][-1]["cpu_us_per_request"]
                log(
                    f"round {round_no}/{args.rounds}: "
                    + ", ".join(
                        f"{name} {rounds[name][-1]['cpu_us_per_request']:.0f} us"
                        f" ({rounds[name][-1]['cpu_us_per_request'] / first:.2f}x)"
                        for name in names
                    )
                )
    summary: dict[str, Any] = {}
    for name in names:
        cpu = [r["cpu_us_per_request"] for r in rounds[name]]
        paired = [
            mine["cpu_us_per_request"] / theirs["cpu_us_per_request"]
            for mine, theirs in zip(rounds[name], rounds[names[0]], strict=True)
        ]
        summary[name] = {
            "cpu_us_per_request": statistics.median(cpu),
            "x_first_per_round": [round(x, 3) for x in paired],
            "x_first_median": statistics.median(paired),
            "non_2xx": sum(r["non_2xx"] for r in rounds[name]),
        }
        print(
            f"{name:>24}  {statistics.median(cpu):6.0f} us CPU/request (median)"
            f"  x first: median {statistics.median(paired):.2f},"
            f" rounds {min(paired):.2f}-{max(paired):.2f}"
        )
    out = args.out or results_path("ingress-ab")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
                "source": args.source,
                "size": args.size,
                "rounds": rounds,
                "summary": summary,
            },
            indent=1,
        )
    )
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
