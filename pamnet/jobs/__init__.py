"""Background fine-tuning jobs: separate processes, recorded in SQLite, surviving restarts.

    from pamnet import jobs
    job = jobs.submit(FinetuneConfig(data="sol.csv", targets=["logS"]))
    jobs.list_jobs()            # live status; dead workers are marked failed
    jobs.cancel(job.id)         # the worker saves its state and exits
    jobs.resume(job.id)         # a new process continues from the saved epoch
    jobs.delete(job.id)

Modules: `store` (the SQLite database), `procs` (start, check and signal worker
processes), `runner` (the actions above), `worker` (the process entry point).
"""

from pamnet.jobs.job import ACTIVE, STATUSES, Job, JobError
from pamnet.jobs.runner import cancel, delete, list_jobs, resume, submit, unique_name
from pamnet.jobs.store import JobStore

__all__ = [
    "ACTIVE",
    "STATUSES",
    "Job",
    "JobError",
    "JobStore",
    "cancel",
    "delete",
    "list_jobs",
    "resume",
    "submit",
    "unique_name",
]
