"""Where checkpoints live and which one a name means.

Shipped checkpoints sit in the repository's `checkpoints/` (or
`$PAMNET_CHECKPOINTS`); checkpoints made by fine-tuning jobs sit in
`<data dir>/checkpoints` (see `pamnet.paths`). A name is a
file stem from either place; anything else is taken as a path. The default is
the shipped QM9 model (`$PAMNET_DEFAULT_CHECKPOINT` overrides it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pamnet.checkpoint import LoadedModel, load_checkpoint, read_payload
from pamnet.errors import CheckpointError
from pamnet.paths import shipped_dir, user_dir

DEFAULT_MOLECULE = "qm9_pamnet"


@dataclass
class CheckpointInfo:
    """What a checkpoint predicts, read without building the model."""

    name: str
    path: Path
    origin: str  # 'shipped' or 'fine-tuned'
    task: str
    targets: list[str]
    units: dict[str, str]
    metadata: dict = field(default_factory=dict)
    card: str = ""  # Markdown model card (the .md beside the file), if any

    @property
    def geometry(self) -> str:
        return str(self.metadata.get("geometry", "any"))


def _info(path: Path, origin: str) -> CheckpointInfo:
    obj = read_payload(path)
    cfg = obj.get("config") or {}
    card_path = path.with_suffix(".md")
    return CheckpointInfo(
        name=path.stem,
        path=path,
        origin=origin,
        task=str(cfg.get("task", "?")),
        targets=list(obj.get("targets") or []),
        units=dict(obj.get("units") or {}),
        metadata=dict(obj.get("metadata") or {}),
        card=card_path.read_text() if card_path.is_file() else "",
    )


def list_checkpoints(task: str | None = None) -> list[CheckpointInfo]:
    """Shipped then fine-tuned checkpoints (unreadable files are skipped)."""
    out = []
    for folder, origin in ((shipped_dir(), "shipped"), (user_dir(), "fine-tuned")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.pt")):
            try:
                info = _info(path, origin)
            except CheckpointError:
                continue
            if task is None or info.task == task:
                out.append(info)
    return out


def resolve(name_or_path: str | os.PathLike | None = None) -> Path:
    """A checkpoint's path from its name (see module doc) or a path; None = default QM9 model."""
    name = str(name_or_path or os.environ.get("PAMNET_DEFAULT_CHECKPOINT") or DEFAULT_MOLECULE)
    for folder in (shipped_dir(), user_dir()):
        candidate = folder / f"{name}.pt"
        if candidate.is_file():
            return candidate
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = ", ".join(i.name for i in list_checkpoints()) or "none found"
    raise CheckpointError(f"no checkpoint named or at {name!r}; known checkpoints: {known}")


_cache: dict[tuple, LoadedModel] = {}
_lock = threading.Lock()


def load(
    name_or_path: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> LoadedModel:
    """Load once per process (keyed by path, modification time and device)."""
    path = resolve(name_or_path)
    key = (str(path.resolve()), path.stat().st_mtime_ns, str(device))
    with _lock:
        if key not in _cache:
            _cache[key] = load_checkpoint(path, device)
        return _cache[key]
