"""A job's record (one row of the jobs table), its statuses and its error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pamnet.errors import PamnetError

STATUSES = ("queued", "running", "cancelling", "cancelled", "failed", "finished")
ACTIVE = ("queued", "running", "cancelling")


class JobError(PamnetError):
    """A job that does not exist, or an action its status does not allow."""


@dataclass
class Job:
    """One row of the jobs table. Times are Unix seconds; progress is epochs done / asked."""

    id: str
    name: str
    kind: str
    status: str
    params: dict
    nproc: int
    pid: int | None
    pid_start: int | None
    epoch: int
    epochs: int
    phase: str
    attempts: int
    created_at: float
    started_at: float | None
    updated_at: float
    finished_at: float | None
    error: str | None
    checkpoint: str | None
    result: dict = field(default_factory=dict)
    folder: Path | None = None
    # Seconds since the quietest rank last beat, when over STALL_S for a live job.
    stalled_s: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def state(self) -> str:
        """The status, or 'stalled' for a live job whose ranks stopped beating."""
        return "stalled" if self.stalled_s is not None else self.status

    @property
    def progress(self) -> float:
        return min(1.0, self.epoch / self.epochs) if self.epochs else 0.0

    @property
    def resumable(self) -> bool:
        return self.status in ("cancelled", "failed")
