"""The job database: one SQLite file shared by the app, the CLI and every worker process.

WAL mode lets readers (the page polling every second) run while a worker writes;
a 30 s busy timeout and `BEGIN IMMEDIATE` for read-modify-write make concurrent
writers wait for each other instead of failing. Each call opens its own short-lived
connection, so a `JobStore` is safe to share between threads and processes. WAL
needs a local file system (not NFS), like every SQLite database in WAL mode.

Tables: jobs (one row per job), metrics (job, epoch) -> JSON, logs (job, time,
level, message). Listing a job also checks its process: a job marked running
whose process is gone (or whose pid now belongs to another process) is marked
failed with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pamnet.jobs import procs
from pamnet.jobs.job import STATUSES, Job, JobError
from pamnet.paths import data_dir

NEVER_STARTED_S = 120  # a queued job without a process after this long has failed to start
HEARTBEAT_S = float(os.environ.get("PAMNET_JOB_HEARTBEAT_S", "10"))  # each rank beats this often
STALL_S = float(os.environ.get("PAMNET_JOB_STALL_S", "45"))  # silent this long: stalled

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    nproc INTEGER NOT NULL DEFAULT 1,
    pid INTEGER,
    pid_start INTEGER,
    epoch INTEGER NOT NULL DEFAULT 0,
    epochs INTEGER NOT NULL DEFAULT 0,
    phase TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    error TEXT,
    checkpoint TEXT,
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS metrics (
    job_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, epoch)
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    ts REAL NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_job ON logs (job_id, id);
CREATE TABLE IF NOT EXISTS beats (
    job_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    pid_start INTEGER,
    ts REAL NOT NULL,
    PRIMARY KEY (job_id, rank)
);
"""
_UPDATABLE = {
    "name",
    "status",
    "params",
    "nproc",
    "pid",
    "pid_start",
    "epoch",
    "epochs",
    "phase",
    "attempts",
    "started_at",
    "finished_at",
    "error",
    "checkpoint",
    "result",
}


def default_root() -> Path:
    """$PAMNET_JOBS_DIR, else `paths.data_dir()/jobs`."""
    env = os.environ.get("PAMNET_JOBS_DIR")
    return Path(env) if env else data_dir() / "jobs"


class JobStore:
    """Jobs, metrics and logs in `root/jobs.db`; each job's files in `root/<id>/`."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "jobs.db"
        # Set when the database was unreadable and moved aside: what the user should know.
        self.notice: str | None = None
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self.notice = self._move_aside(exc)
            self._open()

    def _open(self) -> None:
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")

    def _move_aside(self, exc: Exception) -> str:
        """Rename a corrupt database (and its WAL files) so a fresh one can start."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.root / f"jobs.db.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            src = self.root / f"jobs.db{suffix}"
            if src.exists():
                os.replace(src, self.root / f"{moved.name}{suffix}")
        return (
            f"The jobs database was unreadable ({type(exc).__name__}: {exc}) and was moved "
            f"aside to {moved.name} in the jobs folder; a fresh one was started. Finished "
            "checkpoints are still in the data folder."
        )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no commits
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (no deadlock on upgrade)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    # --- jobs -------------------------------------------------------------------
    def create(
        self,
        job_id: str,
        name: str,
        params: dict,
        kind: str = "finetune",
        epochs: int = 0,
        nproc: int = 1,
    ) -> Job:
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, name, kind, status, params, nproc, epochs, created_at,"
                " updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, name, kind, json.dumps(params), nproc, epochs, now, now),
            )
        return self.get(job_id, check=False)

    def _job(self, row: sqlite3.Row, beats: dict[str, float] | None = None) -> Job:
        d = dict(row)
        d["params"] = json.loads(d["params"])
        d["result"] = json.loads(d["result"] or "{}")
        job = Job(**d, folder=self.folder(d["id"]))
        oldest = (beats or {}).get(job.id)
        if job.status in ("running", "cancelling") and oldest is not None:
            quiet = time.time() - oldest
            job.stalled_s = quiet if quiet > STALL_S else None
        return job

    def _beats(self, db: sqlite3.Connection) -> dict[str, float]:
        """Each job's oldest rank heartbeat (Unix s)."""
        rows = db.execute("SELECT job_id, MIN(ts) FROM beats GROUP BY job_id").fetchall()
        return {r[0]: r[1] for r in rows}

    def beat(self, job_id: str, rank: int) -> bool:
        """Record that `rank` of the job is alive now; False when the job no longer exists
        (deleted: the rank should exit, and write nothing more)."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                return False
            pid = os.getpid()
            db.execute(
                "INSERT OR REPLACE INTO beats (job_id, rank, pid, pid_start, ts)"
                " VALUES (?, ?, ?, ?, ?)",
                (job_id, rank, pid, procs.start_time(pid), time.time()),
            )
        return True

    def clear_beats(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM beats WHERE job_id = ?", (job_id,))

    def rank_pids(self, job_id: str) -> list[int]:
        """Pids of the job's ranks (from their heartbeats) that still run: same pid and
        same start time, so a reused pid is never taken for a rank."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT pid, pid_start FROM beats WHERE job_id = ?", (job_id,)
            ).fetchall()
        return [pid for pid, start in rows if procs.is_alive(pid, start)]

    def first_rank_error(self, job_id: str, since: float) -> str | None:
        """The earliest 'rank N failed' log line after `since`: the cause, when other
        ranks then failed only because a peer went away (connection reset)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT message FROM logs WHERE job_id = ? AND level = 'rank-error' AND ts >= ?"
                " ORDER BY ts, id LIMIT 1",
                (job_id, since),
            ).fetchone()
        return row[0] if row else None

    def get(self, job_id: str, check: bool = True) -> Job:
        """One job (JobError if unknown); check: first mark it failed if its process died."""
        if check:
            self.check_processes(job_id)
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            beats = self._beats(db)
        if row is None:
            raise JobError(f"no job {job_id!r}; `pamnet jobs list` shows the jobs")
        return self._job(row, beats)

    def list(self, check: bool = True) -> list[Job]:
        """Every job, newest first (dead processes detected first unless check=False)."""
        if check:
            self.check_processes()
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created_at DESC, id").fetchall()
            beats = self._beats(db)
        return [self._job(r, beats) for r in rows]

    def update(self, job_id: str, **values) -> None:
        self.transition(job_id, None, None, **values)

    def transition(
        self, job_id: str, status: str | None, expected: tuple[str, ...] | None, **values
    ) -> bool:
        """Set `status` (and columns) if the current status is in `expected` (None: any).

        Returns whether the row changed, so two processes never both win a transition.
        """
        bad = set(values) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update job columns {sorted(bad)}")  # a bug, not input
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")  # a bug, not input
            values["status"] = status
        for key in ("params", "result"):
            if key in values and not isinstance(values[key], str):
                values[key] = json.dumps(values[key])
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        sql, args = f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id]
        if expected is not None:
            sql += f" AND status IN ({', '.join('?' * len(expected))})"
            args += list(expected)
        with self._write() as db:
            return db.execute(sql, args).rowcount == 1

    def delete(self, job_id: str) -> None:
        """Remove the job's rows (the caller removes its folder)."""
        with self._write() as db:
            for table, key in (
                ("metrics", "job_id"),
                ("logs", "job_id"),
                ("beats", "job_id"),
                ("jobs", "id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {key} = ?", (job_id,))

    def names(self) -> set[str]:
        with self._connect() as db:
            return {r[0] for r in db.execute("SELECT name FROM jobs")}

    # --- metrics and logs ----------------------------------------------------------
    def add_metrics(self, job_id: str, row: dict) -> None:
        """Record one epoch (replacing a row of the same epoch from an interrupted attempt)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO metrics (job_id, epoch, data) VALUES (?, ?, ?)",
                (job_id, int(row["epoch"]), json.dumps(row)),
            )
            db.execute(
                "UPDATE jobs SET epoch = ?, updated_at = ? WHERE id = ?",
                (int(row["epoch"]), time.time(), job_id),
            )

    def trim_metrics(self, job_id: str, after_epoch: int) -> None:
        """Drop epochs beyond the saved state (they will be trained again)."""
        with self._write() as db:
            db.execute("DELETE FROM metrics WHERE job_id = ? AND epoch > ?", (job_id, after_epoch))
            db.execute("UPDATE jobs SET epoch = ? WHERE id = ?", (after_epoch, job_id))

    def metrics(self, job_id: str) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT data FROM metrics WHERE job_id = ? ORDER BY epoch", (job_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def log(self, job_id: str, message: str, level: str = "info") -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO logs (job_id, ts, level, message) VALUES (?, ?, ?, ?)",
                (job_id, time.time(), level, message),
            )

    def logs(self, job_id: str, limit: int = 200) -> list[dict]:
        """The last `limit` log records, oldest first: id, ts, level, message."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, ts, level, message FROM logs WHERE job_id = ? ORDER BY id DESC LIMIT ?",
                (job_id, limit),
            ).fetchall()
        return [dict(r) for r in reversed(rows)]

    # --- liveness ---------------------------------------------------------------------
    def check_processes(self, job_id: str | None = None) -> list[str]:
        """Mark jobs whose worker process is gone; returns their ids.

        running -> failed (with the reason); cancelling -> cancelled; queued with a
        dead process, or without one for NEVER_STARTED_S -> failed.
        """
        sql = "SELECT * FROM jobs WHERE status IN ('queued', 'running', 'cancelling')"
        args: tuple = ()
        if job_id is not None:
            sql, args = sql + " AND id = ?", (job_id,)
        with self._connect() as db:
            rows = [self._job(r) for r in db.execute(sql, args).fetchall()]
        gone = []
        for job in rows:
            if job.pid is None:
                if job.status == "queued" and time.time() - job.created_at > NEVER_STARTED_S:
                    if self.transition(job.id, "failed", ("queued",), error="never started"):
                        gone.append(job.id)
                continue
            if procs.is_alive(job.pid, job.pid_start):
                continue
            if job.status == "cancelling":
                done = self.transition(
                    job.id, "cancelled", ("cancelling",), finished_at=time.time(), phase=""
                )
            else:
                reason = (
                    f"worker process {job.pid} is gone (killed, crashed, or the machine "
                    f"restarted) during epoch {job.epoch + 1}; resume to continue from the "
                    "last saved state"
                )
                done = self.transition(
                    job.id, "failed", (job.status,), error=reason, finished_at=time.time(), phase=""
                )
                if done:
                    self.log(job.id, reason, "error")
                    for pid in self.rank_pids(job.id):  # ranks orphaned by their launcher
                        procs.signal_group(pid, signal.SIGTERM)
            if done:
                gone.append(job.id)
        return gone
