"""Submit, cancel, resume and delete fine-tuning jobs; each job runs in its own process.

A job's folder `<jobs root>/<id>/` holds input/ (a copy of the data file),
params.json, log.txt (the worker's output), and train/ (the trainer's state.pt,
best.pt, last.pt, log.jsonl, the featurized-data cache and val_predictions.json).
The finished checkpoint goes to `registry.user_dir()/<job name>.pt` with its card.

The worker is `python -m pamnet.jobs.worker <id>`, or with nproc > 1
`python -m torch.distributed.run --standalone --nproc_per_node N -m pamnet.jobs.worker
<id>` (DDP: Gloo on CPU, NCCL on GPUs), started in a new session so that a
cancel reaches the whole process group and closing the app does not stop it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pamnet.jobs import procs
from pamnet.jobs.job import Job, JobError
from pamnet.jobs.store import JobStore

if TYPE_CHECKING:
    from pamnet.finetune import FinetuneConfig

WORKER = "pamnet.jobs.worker"


def _store(store: JobStore | None) -> JobStore:
    return store if store is not None else JobStore()


def unique_name(wanted: str, store: JobStore) -> str:
    """`wanted`, or wanted-2, -3...: free among checkpoints and other jobs' names."""
    from pamnet import registry
    from pamnet.finetune import safe_name

    stem, taken = safe_name(wanted), store.names()
    name, k = stem, 2
    while name in taken or (registry.user_dir() / f"{name}.pt").exists():
        name, k = f"{stem}-{k}", k + 1
    return name


def submit(
    config: FinetuneConfig, nproc: int = 1, store: JobStore | None = None, start: bool = True
) -> Job:
    """Copy the data into a new job folder, record the job and start its worker.

    The job's checkpoint name (config.name, else data stem + targets) is made
    unique now, so the Predict page shows it under that name when it finishes.
    nproc > 1 runs the worker under torchrun with that many processes.
    """
    from pamnet import registry

    store = _store(store)
    if nproc < 1:
        raise JobError("nproc must be at least 1")
    source = Path(config.data)
    if not source.is_file():
        raise JobError(f"no such data file: {source}")
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = store.folder(job_id)
    (folder / "input").mkdir(parents=True)
    copy = folder / "input" / source.name
    shutil.copyfile(source, copy)
    name = unique_name(config.name or config.default_name(), store)
    config = dataclasses.replace(
        config,
        data=str(copy),
        root=config.root or str(source.resolve().parent),
        name=name,
        output=config.output or str(registry.user_dir() / f"{name}.pt"),
    )
    (folder / "params.json").write_text(json.dumps(config.to_dict(), indent=1))
    store.create(job_id, name, config.to_dict(), epochs=config.epochs, nproc=nproc)
    store.log(job_id, f"submitted: {source.name}, targets {', '.join(config.targets)}")
    if start:
        _launch(store, job_id)
    return store.get(job_id, check=False)


def _launch(store: JobStore, job_id: str) -> None:
    job = store.get(job_id, check=False)
    if job.nproc > 1:
        args = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={job.nproc}",
            "-m",
            WORKER,
            job_id,
        ]
    else:
        args = [sys.executable, "-m", WORKER, job_id]
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding pamnet/
    env = {
        **os.environ,
        "PAMNET_JOBS_DIR": str(store.root),
        "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)  # a job started from inside a torchrun rank is its own run
    store.clear_beats(job_id)  # a resumed job starts quiet, not stalled by old beats
    child = procs.spawn(args, job.folder / "log.txt", env, job.folder)
    store.update(job_id, pid=child.pid, pid_start=procs.start_time(child.pid))


def cancel(job_id: str, store: JobStore | None = None, wait: float = 0.0) -> Job:
    """Ask a queued or running job to stop; its worker saves state and exits within seconds.

    wait: seconds to wait for the worker to record it and exit (0: return at once,
    usually still 'cancelling').
    """
    store = _store(store)
    job = store.get(job_id)
    if job.status == "cancelling":
        pass
    elif job.status in ("queued", "running"):
        if not store.transition(job_id, "cancelling", (job.status,)):
            return cancel(job_id, store, wait)  # the status changed under us: look again
        store.log(job_id, "cancel requested")
    else:
        raise JobError(
            f"job {job_id} is {job.status}; only queued or running jobs can be cancelled"
        )
    if job.pid is not None and procs.is_alive(job.pid, job.pid_start):
        procs.signal_group(job.pid, signal.SIGTERM)
        for pid in store.rank_pids(job_id):  # ranks whose launcher is already gone
            procs.signal_group(pid, signal.SIGCONT)  # a stopped rank must see the TERM
    elif job.pid is None and job.status == "queued":
        store.transition(job_id, "cancelled", ("cancelling",), finished_at=time.time())
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        now = store.get(job_id)
        gone = now.pid is None or not procs.is_alive(now.pid, now.pid_start)
        if now.status != "cancelling" and gone:
            break
        time.sleep(0.1)
    return store.get(job_id)


def resume(job_id: str, store: JobStore | None = None, epochs: int | None = None) -> Job:
    """Start a cancelled or failed job again from its last saved state (a new process).

    epochs: a new total; also lets a finished job train further.
    """
    store = _store(store)
    job = store.get(job_id)
    more = epochs is not None and epochs > job.epoch
    if not (job.resumable or (job.status == "finished" and more)):
        raise JobError(
            f"job {job_id} is {job.status}; only cancelled or failed jobs resume "
            "(or finished ones with more --epochs)"
        )
    params = dict(job.params)
    if epochs is not None:
        params["epochs"] = int(epochs)
    ok = store.transition(
        job_id,
        "queued",
        (job.status,),
        params=params,
        epochs=params["epochs"],
        pid=None,
        pid_start=None,
        error=None,
        finished_at=None,
        attempts=job.attempts + 1,
        phase="",
    )
    if not ok:
        raise JobError(f"job {job_id} changed status meanwhile; look again")
    store.log(job_id, f"resumed (attempt {job.attempts + 2})")
    _launch(store, job_id)
    return store.get(job_id, check=False)


def delete(job_id: str, store: JobStore | None = None, force: bool = False) -> None:
    """Remove a job's folder and rows. A live job needs force=True (its process is killed).

    The exported checkpoint in the checkpoint folder is kept; delete it there if unwanted.
    """
    store = _store(store)
    job = store.get(job_id)
    alive = job.pid is not None and procs.is_alive(job.pid, job.pid_start)
    ranks = store.rank_pids(job_id)
    if job.active and alive and not force:
        raise JobError(f"job {job_id} is {job.status}; cancel it first, or force the delete")
    # every process of the job: the launcher's tree and the ranks that reported their pids
    # (torchrun's ranks run in sessions of their own; orphans keep beating until killed)
    pids = ([job.pid] if alive else []) + ranks
    for pid in pids:
        procs.signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(procs.is_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    store.delete(job_id)
    shutil.rmtree(job.folder, ignore_errors=True)


def list_jobs(store: JobStore | None = None) -> list[Job]:
    """All jobs, newest first; dead workers are detected and marked first."""
    return _store(store).list()
