"""`pamnet serve [--detach] [--idle-minutes M] | --status | --stop`: a warm pamnet."""

from __future__ import annotations

import os
import sys
import time

from pamnet.commands._options import OUTPUT


def register(sub) -> None:
    from pamnet.serve.client import SERVED

    served = ", ".join(f"`pamnet {c}`" for c in SERVED)
    p = sub.add_parser(
        "serve",
        parents=[OUTPUT],
        help="keep pamnet loaded so that predict, explain and inspect answer in well under a second",
        description=f"Start a server that imports torch and RDKit and loads the default "
        f"checkpoints once; while it runs, {served} hand their work to it and return in a "
        "fraction of a second instead of 2-3 s (the same output, exit code and files). Only "
        "you can reach it; it serves this installation only, and stops after --idle-minutes "
        "without a call. PAMNET_SERVE=0 makes a command run without it.",
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument(
        "--detach",
        action="store_true",
        help="start it in the background and return once it is ready",
    )
    act.add_argument("--status", action="store_true", help="say whether one runs, and since when")
    act.add_argument("--stop", action="store_true", help="stop the running one")
    p.add_argument(
        "--idle-minutes",
        type=float,
        default=30.0,
        metavar="M",
        help="stop after M minutes without a call (default 30)",
    )
    p.set_defaults(func=run)


_NONE = "no pamnet server runs for this installation; start one with `pamnet serve --detach`"


def _describe(info: dict) -> str:
    up = time.time() - info["started"]
    return (
        f"pamnet server running (pid {info['pid']}, up {up / 60:.1f} min, {info['served']} "
        f"call{'s' if info['served'] != 1 else ''} served, {', '.join(info['checkpoints']) or 'no checkpoint'} loaded, stops "
        f"after {info['idle_s'] / 60:g} idle minutes) at {info['socket']}"
    )


def _detach(idle_minutes: float) -> int:
    from pamnet.jobs.procs import spawn
    from pamnet.serve import client as serve

    if (info := serve.status()) is not None:
        print(_describe(info))
        return 0
    folder = serve.runtime_dir()
    for old in folder.glob("*.log"):  # logs of servers that have ended
        if not old.with_suffix(".sock").exists():
            old.unlink(missing_ok=True)
    log = folder / f"{serve.install_key()}.log"
    cmd = [sys.executable, "-m", "pamnet", "serve", "--idle-minutes", str(idle_minutes)]
    child = spawn(cmd, log, dict(os.environ), folder)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (info := serve.status()) is not None:
            print(_describe(info))
            return 0
        if child.poll() is not None:
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise serve.ServerError(
                f"the pamnet server exited during start-up: {tail} (log: {log})"
            )
        time.sleep(0.2)
    raise serve.ServerError(f"the pamnet server was not ready after 300 s; see {log}")


def run(args) -> int:
    import json

    from pamnet.serve import client, server

    if args.stop:
        stopped = client.stop()
        if args.format == "json":
            print(json.dumps(stopped))
        for info in stopped if args.format == "text" else []:
            print("stopping: " + _describe(info))
        if not stopped and args.format == "text":
            print("no pamnet server runs for this installation")
        return 0
    if args.status:
        info, old = client.status(), client.stale()
        if args.format == "json":
            print(json.dumps({"running": info is not None, **(info or {}), "stale": old}))
            return 0
        print(_describe(info) if info else _NONE)
        for i in old:
            print(
                f"also: the server of an older version of this code (pid {i['pid']}) waits "
                "for its idle time; `pamnet serve --stop` stops it"
            )
        return 0
    if not args.idle_minutes > 0:
        from pamnet.errors import ConfigError

        raise ConfigError(
            f"--idle-minutes must be above 0 (got {args.idle_minutes:g}); give e.g. 30"
        )
    if args.detach:
        return _detach(args.idle_minutes)
    served = server.serve(args.idle_minutes * 60)
    print(f"pamnet server stopped after {served} calls")
    return 0
