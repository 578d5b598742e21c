"""Background jobs: the SQLite store under concurrent writers, dead and reused pids, and real
worker processes: two at once, cancel within seconds, resume from the saved epoch, SIGKILL."""

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pamnet import jobs, registry
from pamnet.checkpoint import Normalization, save_checkpoint
from pamnet.config import ModelConfig
from pamnet.finetune import FinetuneConfig, val_predictions
from pamnet.jobs import JobError, JobStore, procs
from pamnet.model import PAMNet

SMILES = [
    "C",
    "CC",
    "CCC",
    "CCCC",
    "CCO",
    "CCN",
    "CC=O",
    "CO",
    "CN",
    "OCCO",
    "CC(C)C",
    "CC(=O)O",
    "c1ccccc1",
    "C1CCC1",
    "CCOC",
    "CF",
]


def _wait(predicate, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- the store ------------------------------------------------------------------------------
def test_store_records_jobs_metrics_and_logs(tmp_path):
    store = JobStore(tmp_path)
    job = store.create("j1", "my-model", {"epochs": 3}, epochs=3)
    assert (job.status, job.epoch, job.folder) == ("queued", 0, tmp_path / "j1")
    assert store.transition("j1", "running", ("queued",), pid=123)
    assert not store.transition("j1", "running", ("queued",))  # only one process wins
    store.add_metrics("j1", {"epoch": 1, "train_loss": 1.0})
    store.add_metrics("j1", {"epoch": 2, "train_loss": 0.8})
    store.add_metrics("j1", {"epoch": 2, "train_loss": 0.7})  # a retried epoch replaces
    assert [m["train_loss"] for m in store.metrics("j1")] == [1.0, 0.7]
    store.trim_metrics("j1", after_epoch=1)
    assert [m["epoch"] for m in store.metrics("j1")] == [1]
    for k in range(5):
        store.log("j1", f"line {k}")
    assert [r["message"] for r in store.logs("j1", 2)] == ["line 3", "line 4"]
    got = store.get("j1", check=False)
    assert (got.status, got.pid, got.epoch, got.progress) == (
        "running",
        123,
        1,
        pytest.approx(1 / 3),
    )
    assert store.names() == {"my-model"}
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.delete("j1")
    with pytest.raises(JobError, match="no job 'j1'"):
        store.get("j1")
    assert db.execute("SELECT COUNT(*) FROM logs").fetchone()[0] == 0


def test_dead_and_reused_pids_are_found_by_a_new_store(tmp_path):
    store = JobStore(tmp_path)
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    me, my_start = os.getpid(), procs.start_time(os.getpid())
    rows = {
        "gone": ("running", exited.pid, None),
        "reused": ("running", me, my_start + 1),  # our pid, but not the process that started
        "alive": ("running", me, my_start),
        "stopping": ("cancelling", exited.pid, None),
    }
    for job_id, (status, pid, start) in rows.items():
        store.create(job_id, job_id, {})
        store.transition(job_id, status, None, pid=pid, pid_start=start)
    restarted = JobStore(tmp_path)  # what the app sees after a restart
    status = {j.id: j.status for j in restarted.list()}
    assert status == {
        "gone": "failed",
        "reused": "failed",
        "alive": "running",
        "stopping": "cancelled",
    }
    assert "is gone" in restarted.get("gone").error
    assert "is gone" in restarted.logs("reused")[-1]["message"]


def _writer(root: str, worker: int, n: int) -> None:
    store = JobStore(root)
    for k in range(n):
        store.add_metrics(f"job{worker % 2}", {"epoch": worker * 1000 + k, "w": worker})
        store.log(f"job{worker % 2}", f"{worker}:{k}")
        store.update(f"job{worker % 2}", phase=f"{worker}:{k}")


def test_concurrent_writers_do_not_corrupt_the_database(tmp_path):
    store = JobStore(tmp_path)
    store.create("job0", "a", {})
    store.create("job1", "b", {})
    ctx = multiprocessing.get_context("fork")
    procs_ = [ctx.Process(target=_writer, args=(str(tmp_path), w, 60)) for w in range(4)]
    for p in procs_:
        p.start()
    while any(p.is_alive() for p in procs_):
        store.list(check=False)  # a reader polling like the page does
    assert [p.exitcode for p in procs_] == [0, 0, 0, 0]
    assert len(store.metrics("job0")) == len(store.metrics("job1")) == 120
    assert len(store.logs("job0", 1000)) == len(store.logs("job1", 1000)) == 120
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- real workers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mols_sdf(tmp_path_factory) -> Path:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from pamnet.io import from_smiles, write_sdf

    path = tmp_path_factory.mktemp("data") / "mols.sdf"
    mw = [{"mw": Descriptors.MolWt(Chem.MolFromSmiles(s)) / 10} for s in SMILES]
    write_sdf([from_smiles(s) for s in SMILES], path, predictions=mw)
    return path


@pytest.fixture()
def job_env(tiny_registry, monkeypatch):
    """A cheap base 'fast' in the tiny registry; workers use one thread each."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.manual_seed(0)
    cfg = ModelConfig(dim=8, n_layer=1, num_targets=2, num_rbf=6)  # 7x6 angle basis: precomputed
    norm = Normalization([-6.5, -2.0], [0.6, 0.3], [False, True], [[0.0, 0.0]] * 5)
    save_checkpoint(tiny_registry / "fast.pt", PAMNet(cfg), ["homo", "u0"], {}, norm, {})
    yield JobStore()
    for job in JobStore().list(check=False):  # never leave a worker behind
        if job.pid and procs.is_alive(job.pid, job.pid_start):
            procs.signal_group(job.pid, signal.SIGKILL)


def _config(data: Path, epochs: int, name: str) -> FinetuneConfig:
    return FinetuneConfig(
        data=str(data),
        targets=["mw"],
        base="fast",
        epochs=epochs,
        batch_size=4,
        lr=1e-2,
        val_fraction=0.25,
        device="cpu",
        name=name,
    )


def _finished(store: JobStore, *ids: str):
    got = [store.get(i) for i in ids]
    return got if all(not j.active for j in got) else None


def test_two_jobs_run_at_once_and_register_their_checkpoints(job_env, mols_sdf, capsys):
    store = job_env
    a = jobs.submit(_config(mols_sdf, 2, "job a"))
    b = jobs.submit(_config(mols_sdf, 2, "job a"))  # same name asked: made unique
    assert (a.name, b.name) == ("job-a", "job-a-2") and a.status == "queued" and a.pid
    done = _wait(lambda: _finished(store, a.id, b.id), 150, "both jobs")
    for job in done:
        assert job.status == "finished", (job.error, store.logs(job.id))
        assert [m["epoch"] for m in store.metrics(job.id)] == [1, 2]
        assert Path(job.checkpoint) == registry.user_dir() / f"{job.name}.pt"
        assert Path(job.checkpoint).with_suffix(".md").is_file()
        assert (job.folder / "input" / "mols.sdf").is_file()
        assert len(val_predictions(job.folder / "train")["y_pred"]) == 4
        assert "first training step" in [r["message"] for r in store.logs(job.id)]
    fine_tuned = {i.name for i in registry.list_checkpoints() if i.origin == "fine-tuned"}
    assert fine_tuned == {"job-a", "job-a-2"}
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    from pamnet.cli import main

    assert main(["jobs", "list"]) == 0
    assert a.id in capsys.readouterr().out


def test_cancel_stops_within_seconds_and_resume_continues_from_the_saved_epoch(job_env, mols_sdf):
    from pamnet.training import load_state

    store = job_env
    job = jobs.submit(_config(mols_sdf, 500, "long"))
    _wait(lambda: store.get(job.id).epoch >= 1, 120, "the first epoch")
    with pytest.raises(JobError, match="cancel it first"):
        jobs.delete(job.id)
    start = time.monotonic()
    stopped = jobs.cancel(job.id, wait=15)
    assert stopped.status == "cancelled" and time.monotonic() - start < 10
    assert not procs.is_alive(job.pid, store.get(job.id).pid_start)
    state = load_state(job.folder / "train" / "state.pt")
    saved = state["epoch"]
    assert saved >= 1
    assert any(f"cancelled at epoch {saved}," in r["message"] for r in store.logs(job.id))

    resumed = jobs.resume(job.id, epochs=saved + 1)
    assert resumed.status == "queued" and resumed.pid != job.pid and resumed.attempts == 1
    done = _wait(lambda: _finished(store, job.id), 120, "the resumed job")[0]
    assert done.status == "finished", done.error
    messages = [r["message"] for r in store.logs(job.id, 500)]
    assert f"resuming from epoch {saved} (step {state['step']})" in messages
    assert [m["epoch"] for m in store.metrics(job.id)] == list(range(1, saved + 2))
    jobs.delete(job.id)
    assert not job.folder.exists() and job.id not in {j.id for j in store.list()}


def test_a_killed_worker_is_reported_failed_after_a_restart(job_env, mols_sdf):
    store = job_env
    job = jobs.submit(_config(mols_sdf, 500, "killed"))
    _wait(lambda: store.get(job.id).phase == "training", 120, "training to start")
    os.kill(job.pid, signal.SIGKILL)
    _wait(lambda: not procs.is_alive(job.pid, job.pid_start), 10, "the worker to die")
    failed = JobStore().get(job.id)  # a new store instance: the app after a restart
    assert failed.status == "failed" and "is gone" in failed.error
    assert failed.resumable
    jobs.resume(job.id, epochs=1)
    done = _wait(lambda: _finished(store, job.id), 120, "the resumed job")[0]
    assert done.status == "finished" and done.error is None


@pytest.mark.parametrize("garbage", [b"not a database\n" * 200, b""], ids=["garbage", "cut"])
def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_started(tmp_path, garbage):
    good = JobStore(tmp_path)
    good.create("j1", "ok", {"epochs": 1})
    db = tmp_path / "jobs.db"
    for extra in tmp_path.glob("jobs.db-*"):  # WAL files of the good database
        extra.unlink()
    bad = garbage or db.read_bytes()[:200]  # garbage, or a file cut after its header
    db.write_bytes(bad)
    store = JobStore(tmp_path)
    assert store.list() == [] and store.notice is not None
    assert "moved aside" in store.notice and str(tmp_path) not in store.notice
    aside = [p for p in tmp_path.glob("jobs.db.corrupt-*") if not p.name.endswith(("wal", "shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == bad  # kept for the user, unchanged
    store.create("j2", "after", {"epochs": 1})
    assert [j.name for j in JobStore(tmp_path).list()] == ["after"]
    assert JobStore(tmp_path).notice is None


def _job_processes(job_id: str) -> list[int]:
    """Live processes whose command line names the job (launcher and ranks)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdecimal():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if job_id.encode() in cmd and procs.is_alive(int(entry)):
                found.append(int(entry))
    return found


@pytest.mark.slow
def test_force_delete_of_a_two_rank_job_leaves_no_process_and_no_file(job_env, mols_sdf):
    store = job_env
    job = jobs.submit(_config(mols_sdf, 100_000, "two ranks"), nproc=2)
    _wait(lambda: store.get(job.id).epoch >= 1, 120, "the first epoch")
    assert store.get(job.id).status == "running" and len(store.rank_pids(job.id)) == 2
    assert len(_job_processes(job.id)) >= 3  # torchrun and its two ranks
    jobs.delete(job.id, force=True)
    _wait(lambda: not _job_processes(job.id), 10, "every process of the job to end")
    time.sleep(3)  # a surviving rank would have written its folder or a row by now
    assert not job.folder.exists()
    with pytest.raises(JobError):
        store.get(job.id)


@pytest.mark.slow
def test_a_stopped_worker_is_reported_stalled_then_cancelled(job_env, mols_sdf, monkeypatch):
    from pamnet.jobs import store as store_module

    monkeypatch.setenv("PAMNET_JOB_HEARTBEAT_S", "1")  # the worker's beat
    monkeypatch.setattr(store_module, "STALL_S", 10.0)  # what this process calls stalled
    store = job_env
    job = jobs.submit(_config(mols_sdf, 100_000, "stopped"))
    _wait(lambda: store.get(job.id).epoch >= 1, 120, "the first epoch")
    assert store.get(job.id).state == "running"
    os.kill(job.pid, signal.SIGSTOP)
    try:
        stalled = _wait(lambda: store.get(job.id).stalled_s and store.get(job.id), 60, "stall")
        assert stalled.state == "stalled" and stalled.status == "running"
    finally:
        os.kill(job.pid, signal.SIGCONT)
    _wait(lambda: store.get(job.id).state == "running", 30, "beats to come back")
    assert jobs.cancel(job.id, wait=20).status == "cancelled"


def test_the_first_failing_rank_is_the_one_reported(tmp_path):
    store = JobStore(tmp_path)
    store.create("j", "two", {}, nproc=2)
    store.log("j", "rank 1 failed: ValueError: bad row 7", "rank-error")
    time.sleep(0.01)
    store.log("j", "rank 0 failed: RuntimeError: Connection reset by peer", "rank-error")
    assert store.first_rank_error("j", since=0).startswith("rank 1 failed: ValueError")
    assert store.first_rank_error("j", since=time.time() + 1) is None
