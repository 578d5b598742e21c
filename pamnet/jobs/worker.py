"""`python -m pamnet.jobs.worker JOB_ID`: run one job (started by `pamnet.jobs.submit`).

Rank 0 records everything in the job database: running, each epoch's metrics,
log lines, and how it ended (finished with its checkpoint, cancelled, or failed
with the error). SIGTERM (cancel) sets a flag the run checks before every batch;
the state is saved and the process exits. If it has not exited GRACE_S seconds
after the signal (a long validation, a DDP rank waiting on another), it records
'cancelled' and exits anyway; the last state saved (every epoch) is kept.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

from pamnet import distributed

GRACE_S = 10.0


def _hard_exit(store, job_id: str, rank: int) -> None:
    if rank == 0:
        store.transition(
            job_id,
            "cancelled",
            ("running", "cancelling"),
            finished_at=time.time(),
            phase="",
            error="stopped before the end of its epoch; resume continues from the last saved state",
        )
    os._exit(143)


def _start_heartbeat(store, job_id: str, rank: int) -> None:
    """Each rank records that it is alive every HEARTBEAT_S (a stopped or frozen process
    goes quiet and the job is shown stalled); a rank whose job was deleted exits at once,
    writing nothing, so a force-deleted job's folder and rows never come back."""
    from pamnet.jobs.store import HEARTBEAT_S

    def beat() -> None:
        while True:
            try:
                alive = store.beat(job_id, rank)
            except Exception:  # noqa: BLE001 - a busy database: try again next beat
                alive = True
            if not alive:
                os._exit(137)
            time.sleep(HEARTBEAT_S)

    threading.Thread(target=beat, name="pamnet-heartbeat", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pamnet.jobs.worker JOB_ID", file=sys.stderr)
        return 2
    job_id = argv[0]
    rank = distributed.rank()
    stop = threading.Event()
    from pamnet.jobs.store import JobStore

    store = JobStore()

    def on_signal(signum, frame) -> None:
        if not stop.is_set():
            stop.set()
            timer = threading.Timer(GRACE_S, _hard_exit, (store, job_id, rank))
            timer.daemon = True
            timer.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _start_heartbeat(store, job_id, rank)
    job = store.get(job_id, check=False)
    if rank == 0 and not store.transition(
        job_id, "running", ("queued",), started_at=time.time(), phase="starting"
    ):
        store.transition(job_id, "cancelled", ("cancelling",), finished_at=time.time())
        print(f"job {job_id} is {store.get(job_id, check=False).status}; not starting")
        return 0
    return _run(store, job, rank, stop)


def _run(store, job, rank: int, stop: threading.Event) -> int:
    from pamnet.errors import PamnetError
    from pamnet.finetune import Cancelled, FinetuneConfig, run

    lead = rank == 0

    def log(message: str) -> None:
        print(message, flush=True)
        if lead:
            store.log(job.id, message)
            if message.startswith(("featurizing", "resuming")):
                store.update(job.id, phase=message)

    def on_epoch(row: dict) -> None:
        store.add_metrics(job.id, row)

    def on_first_step() -> None:
        if lead:
            store.update(job.id, phase="training")
            store.log(job.id, "first training step", "event")

    out_dir = job.folder / "train"
    started = time.time()
    try:
        config = FinetuneConfig.from_dict(job.params)
        if lead and (out_dir / "state.pt").is_file():
            from pamnet.training import load_state

            store.trim_metrics(job.id, int(load_state(out_dir / "state.pt")["epoch"]))
        result = run(
            config,
            out_dir,
            on_epoch=on_epoch,
            stop=stop.is_set,
            log=log,
            on_first_step=on_first_step,
        )
    except Cancelled:
        status, fields = "cancelled", {}
    except PamnetError as exc:
        status, fields = "failed", {"error": str(exc)}
        log(f"failed: {exc}")
        _rank_failed(store, job, rank, str(exc))
    except BaseException as exc:  # noqa: BLE001 - everything must end in the database
        traceback.print_exc()
        status, fields = "failed", {"error": f"{type(exc).__name__}: {exc}"}
        _rank_failed(store, job, rank, fields["error"])
        if lead:
            store.log(job.id, traceback.format_exc(), "error")
    else:
        status = "cancelled" if result.status == "cancelled" else "finished"
        fields = {}
        if status == "finished" and lead:
            fields = {
                "checkpoint": str(result.checkpoint),
                "result": {
                    "status": result.status,
                    "epochs_done": result.epochs_done,
                    "val_mae": result.val_mae,
                    "card": str(result.card),
                },
            }
    if lead and status == "failed" and job.nproc > 1:
        first = store.first_rank_error(job.id, since=started)
        if first and not first.startswith("rank 0 "):
            fields["error"] = f"{first} (then rank 0: {fields['error']})"
    if lead:
        store.transition(
            job.id, status, ("running", "cancelling"), finished_at=time.time(), phase="", **fields
        )
    return 0 if status != "failed" else 1


def _rank_failed(store, job, rank: int, message: str) -> None:
    """Every rank of a multi-process job records its failure with a time, so the job's
    error can name the rank that failed first, not the peers that lost it."""
    if job.nproc > 1:
        try:
            store.log(job.id, f"rank {rank} failed: {message}", "rank-error")
        except Exception:  # noqa: BLE001 - the database may be gone (a deleted job)
            pass


if __name__ == "__main__":
    sys.exit(main())
