"""Where PAMNet Studio keeps files, and how it writes them (no heavy imports).

- data dir: `$PAMNET_DATA_DIR`, default `~/.pamnet` (jobs, fine-tuned checkpoints, caches)
- shipped checkpoints: `$PAMNET_CHECKPOINTS`, default the repository's `checkpoints/`
- fine-tuned checkpoints: `<data dir>/checkpoints`
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def data_dir() -> Path:
    """Writable per-user folder for jobs, fine-tuned checkpoints and caches."""
    return Path(os.environ.get("PAMNET_DATA_DIR") or Path.home() / ".pamnet")


def shipped_dir() -> Path:
    env = os.environ.get("PAMNET_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "checkpoints"


def user_dir() -> Path:
    return data_dir() / "checkpoints"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write `path` all at once: `write(tmp)` fills a sibling temp file, then os.replace.

    Readers never see a half-written file; if `write` raises, the temp file is removed
    and `path` keeps its old content. Creates the parent folder. Returns `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def structures_dir() -> Path:
    """`<data dir>/structures`: where the app reads the protein and ligand files that an
    uploaded complex table names (relative paths inside it only)."""
    path = data_dir() / "structures"
    path.mkdir(parents=True, exist_ok=True)
    return path
