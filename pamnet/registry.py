"""Where checkpoints live and which one a name means.

Shipped checkpoints sit in the repository's `checkpoints/` (or
`$PAMNET_CHECKPOINTS`); checkpoints made by fine-tuning jobs sit in
`<data dir>/checkpoints` (see `pamnet.paths`). A name is a
file stem from either place; anything else is taken as a path. The default is
the shipped QM9 model trained on DFT geometries, or, for structures built from
SMILES (MMFF/UFF/ETKDG geometries), the one trained on MMFF geometries when it is
shipped (`default_name`); `$PAMNET_DEFAULT_CHECKPOINT` overrides both.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pamnet.checkpoint import LoadedModel, load_checkpoint, read_payload, shown_targets
from pamnet.device import resolve as resolve_device
from pamnet.errors import CheckpointError
from pamnet.paths import shipped_dir, user_dir

DEFAULT_MOLECULE = "qm9_pamnet"  # trained on QM9's DFT geometries
DEFAULT_SMILES = "qm9_pamnet_mmff"  # trained on geometries built like our SMILES reader's
BUILT_GEOMETRIES = ("mmff", "uff", "etkdg")  # Structure.geometry of SMILES-built input


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
    calibrated: bool = False  # carries a `pamnet.uncertainty.Calibration`: intervals
    specialists: list[str] = field(default_factory=list)  # targets `pamnet.specialists` answer

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
        targets=shown_targets(list(obj.get("targets") or []), dict(obj.get("metadata") or {})),
        units=dict(obj.get("units") or {}),
        metadata=dict(obj.get("metadata") or {}),
        card=card_path.read_text() if card_path.is_file() else "",
        calibrated=bool(obj.get("calibration")),
        specialists=[
            str(t)
            for e in obj.get("specialists") or []
            if isinstance(e, dict)
            for t in e.get("targets") or []
        ],
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


def default_name(geometry: str | None = None) -> str:
    """Name of the default checkpoint for inputs of this `Structure.geometry`:
    `$PAMNET_DEFAULT_CHECKPOINT` when set; else the MMFF-trained QM9 model for
    SMILES-built geometries when it is shipped; else the DFT-trained QM9 model."""
    env = os.environ.get("PAMNET_DEFAULT_CHECKPOINT")
    if env:
        return env
    if geometry in BUILT_GEOMETRIES and (shipped_dir() / f"{DEFAULT_SMILES}.pt").is_file():
        return DEFAULT_SMILES
    return DEFAULT_MOLECULE


def input_geometry(items) -> str | None:
    """'mmff' when every item is a SMILES string or a structure built from a connection
    table (SMILES, 2D records: what `default_name` needs to pick the MMFF-trained model),
    else None. `pamnet.io.Record`s count by their structure; failed ones not at all."""
    items = [getattr(it, "structure", it) for it in items]
    items = [it for it in items if it is not None]
    built = [
        isinstance(it, str) or getattr(it, "geometry", None) in BUILT_GEOMETRIES for it in items
    ]
    return "mmff" if items and all(built) else None


def resolve(name_or_path: str | os.PathLike | None = None, geometry: str | None = None) -> Path:
    """A checkpoint's path from its name (see module doc) or a path; None = the default
    for inputs of `geometry` (`default_name`)."""
    name = str(name_or_path or default_name(geometry))
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
    name_or_path: str | os.PathLike | None = None, device: str | torch.device = "auto"
) -> LoadedModel:
    """Load once per process (keyed by path, modification time and device)."""
    path = resolve(name_or_path)
    device = resolve_device(device)
    key = (str(path.resolve()), path.stat().st_mtime_ns, str(device))
    with _lock:
        if key not in _cache:
            _cache[key] = load_checkpoint(path, device)
        return _cache[key]
