"""Where PAMNet Studio keeps files (no heavy imports: safe for any process).

- data dir: `$PAMNET_DATA_DIR`, default `~/.pamnet` (jobs, fine-tuned checkpoints, caches)
- shipped checkpoints: `$PAMNET_CHECKPOINTS`, default the repository's `checkpoints/`
- fine-tuned checkpoints: `<data dir>/checkpoints`
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Writable per-user folder for jobs, fine-tuned checkpoints and caches."""
    return Path(os.environ.get("PAMNET_DATA_DIR") or Path.home() / ".pamnet")


def shipped_dir() -> Path:
    env = os.environ.get("PAMNET_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "checkpoints"


def user_dir() -> Path:
    return data_dir() / "checkpoints"
