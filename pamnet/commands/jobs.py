"""`pamnet jobs list|show|logs|cancel|resume|delete`: background fine-tuning jobs.

Start one with `pamnet finetune ... --background`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from pamnet.commands._options import OUTPUT


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "jobs",
        help="list and manage background fine-tuning jobs",
        description="Jobs started by `pamnet finetune --background` or the app's Fine-tune "
        "page. Each runs in its own process; state lives in <data dir>/jobs.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="all jobs, newest first", parents=[OUTPUT])
    show = sub.add_parser(
        "show", help="a job's status, metrics and last log lines", parents=[OUTPUT]
    )
    show.add_argument("id")
    logs = sub.add_parser("logs", help="a job's log")
    logs.add_argument("id")
    logs.add_argument("-n", type=int, default=50, help="last N lines")
    cancel = sub.add_parser("cancel", help="stop a job (it saves its state)")
    cancel.add_argument("id")
    cancel.add_argument("--wait", type=float, default=15.0, help="seconds to wait for it")
    resume = sub.add_parser("resume", help="continue a cancelled or failed job")
    resume.add_argument("id")
    resume.add_argument("--epochs", type=int, default=None, help="new total number of epochs")
    delete = sub.add_parser("delete", help="remove a job's folder and records")
    delete.add_argument("id")
    delete.add_argument("--force", action="store_true", help="also kill a running job")
    p.set_defaults(func=run)


def _when(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def _summary(job) -> dict:
    return {
        "id": job.id,
        "name": job.name,
        "status": job.state,  # 'stalled' when a live job's ranks stopped beating
        "epoch": job.epoch,
        "epochs": job.epochs,
        "phase": job.phase,
        "created": _when(job.created_at),
        "checkpoint": job.checkpoint,
        "error": job.error,
    }


def run(args: argparse.Namespace) -> int:
    from pamnet import jobs

    store = jobs.JobStore()
    if store.notice:
        print(f"note: {store.notice}", file=sys.stderr)
    if args.action == "list":
        rows = [_summary(j) for j in store.list()]
        if args.format == "json":
            print(json.dumps(rows, indent=1))
        elif not rows:
            print("no jobs; start one with `pamnet finetune ... --background`")
        for r in [] if args.format == "json" else rows:
            print(
                f"{r['id']}  {r['status']:<10} {r['epoch']:>3}/{r['epochs']:<3} "
                f"{r['created']}  {r['name']}  {r['error'] or ''}"
            )
        return 0
    if args.action == "show":
        job = store.get(args.id)
        info = {
            **_summary(job),
            "params": job.params,
            "result": job.result,
            "metrics": store.metrics(job.id),
            "folder": str(job.folder),
        }
        if args.format == "json":
            print(json.dumps(info, indent=1))
            return 0
        for key in ("id", "name", "status", "phase", "created", "checkpoint", "error", "folder"):
            print(f"{key:>10}: {info[key] or ''}")
        print(f"{'progress':>10}: epoch {job.epoch} of {job.epochs}")
        for m in info["metrics"]:
            val = "" if m.get("val_loss") is None else f" val {m['val_loss']:.4f}"
            print(f"  epoch {m['epoch']:>3}: train {m['train_loss']:.4f}{val}")
        for line in store.logs(job.id, 10):
            print(f"  {_when(line['ts'])} {line['message']}")
        return 0
    if args.action == "logs":
        for line in store.logs(args.id, args.n):
            print(f"{_when(line['ts'])} [{line['level']}] {line['message']}")
        return 0
    if args.action == "cancel":
        job = jobs.cancel(args.id, store, wait=args.wait)
        print(f"job {job.id} is {job.status} at epoch {job.epoch}")
        return 0
    if args.action == "resume":
        job = jobs.resume(args.id, store, epochs=args.epochs)
        print(f"job {job.id} resumed (pid {job.pid})")
        return 0
    jobs.delete(args.id, store, force=args.force)
    print(f"job {args.id} deleted")
    return 0
