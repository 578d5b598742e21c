"""Checkpoint I/O in our format, loaded safely (`weights_only=True`).

A checkpoint is a dict::

    {"format": "pamnet-studio/1", "model": state_dict, "config": ModelConfig dict,
     "targets": [names], "units": {target: unit}, "normalization": {...} | None,
     "metadata": {...}, "calibration": {...} | absent,
     "specialists": [{"targets", "model", "config", "metadata"}] | absent}

`calibration` (`pamnet.uncertainty.Calibration`) gives intervals and the domain.

`normalization` maps model outputs to physical units (see `Normalization`).
`specialists` (`pamnet.specialists`): targets answered by a network trained for them alone.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pamnet.config import ModelConfig
from pamnet.device import resolve as resolve_device
from pamnet.errors import CheckpointError, ConfigError
from pamnet.model import PAMNet
from pamnet.paths import atomic_write
from pamnet.specialists import Specialist, Specialized, from_payload, to_payload

FORMAT = "pamnet-studio/1"


@dataclass
class Normalization:
    """y = std * raw + mean_term + atom_ref_term, per target.

    mean is per atom when `per_atom` (extensive targets), else per structure.
    atom_ref: [num_atom_types][T] reference value per atom type added per atom
    (e.g. isolated-atom energies, so the network learns atomization energies).
    """

    mean: list[float]
    std: list[float]
    per_atom: list[bool]
    atom_ref: list[list[float]] | None = None

    def to_dict(self) -> dict:
        return {
            "mean": self.mean,
            "std": self.std,
            "per_atom": self.per_atom,
            "atom_ref": self.atom_ref,
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> Normalization | None:
        if d is None:
            return None
        return cls(d["mean"], d["std"], d["per_atom"], d.get("atom_ref"))


def check_dipole_normalization(config: ModelConfig, norm: Normalization | None) -> None:
    """ConfigError unless the dipole target's normalisation is as the dipole head needs
    (`pamnet.heads`: mean 0, no atom reference, per structure)."""
    k = config.dipole_target
    if k is None or norm is None:
        return
    refs = [row[k] for row in norm.atom_ref] if norm.atom_ref is not None else [0.0]
    if norm.mean[k] != 0 or norm.per_atom[k] or any(r != 0 for r in refs):
        raise ConfigError(
            "the dipole head's target needs a normalisation with mean 0, no atom reference "
            "and per structure (pamnet.heads.dipole_normalization)"
        )


@dataclass
class LoadedModel:
    """A model with what it predicts: target names, units, normalization, card.

    model: the paper's network (what training and fine-tuning start from); specialists:
    {target: Specialist} answering some targets instead (`pamnet.specialists`);
    `combined`: the network predictions, evaluation and explanations run."""

    model: PAMNet
    targets: list[str]
    units: dict[str, str] = field(default_factory=dict)
    normalization: Normalization | None = None
    metadata: dict = field(default_factory=dict)
    path: str | None = None
    calibration: object | None = None  # pamnet.uncertainty.Calibration
    specialists: dict[str, Specialist] = field(default_factory=dict)
    _combined: Specialized | None = field(default=None, repr=False, compare=False)

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def combined(self) -> PAMNet | Specialized:
        """`model`, or `model` with its specialists' columns (one module: `.to` moves all)."""
        if not self.specialists:
            return self.model
        c, nets = self._combined, {t: s.model for t, s in self.specialists.items()}
        if c is None or c.base is not self.model or c.nets != nets:  # e.g. after `replace`
            self._combined = Specialized(self.model, nets, self.targets)
        return self._combined

    def model_for(self, target: str) -> PAMNet:
        """The network that answers `target`: its specialist's, else `model`."""
        s = self.specialists.get(target)
        return s.model if s is not None else self.model

    @property
    def shown_targets(self) -> list[str]:
        """`targets` less the stale ones (`stale_targets`): what predictions show."""
        return shown_targets(self.targets, self.metadata)


def stale_targets(metadata: dict) -> list[str]:
    """Targets whose heads no longer match the layers they read: heads a fine-tune kept
    from its base while it retrained the base's layers (`target_elements` empty)."""
    table = metadata.get("target_elements") or {}
    return [t for t, elements in table.items() if not elements]


def shown_targets(targets: list[str], metadata: dict) -> list[str]:
    stale = set(stale_targets(metadata))
    return [t for t in targets if t not in stale]


def save_checkpoint(
    path: str | os.PathLike | io.BytesIO,
    model: PAMNet,
    targets: list[str],
    units: dict[str, str] | None = None,
    normalization: Normalization | None = None,
    metadata: dict | None = None,
    calibration=None,
    specialists: dict[str, Specialist] | None = None,
) -> None:
    """Write a checkpoint atomically; calibration: a `pamnet.uncertainty.Calibration`;
    specialists: {target: Specialist} (`pamnet.specialists`)."""
    if len(targets) != model.config.num_targets:
        raise ConfigError(
            f"{len(targets)} target names for a model with {model.config.num_targets} outputs"
        )
    payload = {
        "format": FORMAT,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": model.config.to_dict(),
        "targets": list(targets),
        "units": dict(units or {}),
        "normalization": normalization.to_dict() if normalization else None,
        # Plain JSON types only: anything else (a str subclass such as torch.__version__,
        # a Path, numpy scalars) would make the file unloadable with weights_only=True.
        "metadata": json.loads(json.dumps(dict(metadata or {}), default=_plain)),
    }
    if calibration is not None:
        payload["calibration"] = calibration.to_dict()
    if specialists:
        payload["specialists"] = [
            {**e, "metadata": json.loads(json.dumps(e["metadata"], default=_plain))}
            for e in to_payload(specialists)
        ]
    if isinstance(path, (str, os.PathLike)):
        atomic_write(path, lambda tmp: torch.save(payload, tmp))  # never half-written
    else:
        torch.save(payload, path)


def _plain(obj):
    if hasattr(obj, "tolist"):  # numpy / torch scalars and arrays
        return obj.tolist()
    return str(obj)


def read_payload(path: str | os.PathLike | io.BytesIO) -> dict:
    """The raw dict of a checkpoint, with typed errors for every way it can be wrong."""
    name = str(path) if isinstance(path, (str, os.PathLike)) else "uploaded checkpoint"
    if isinstance(path, (str, os.PathLike)) and not Path(path).is_file():
        raise CheckpointError(f"{name}: no such file; `pamnet checkpoints` lists the shipped ones")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(
            f"{name}: not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:200]}). "
            "It may be truncated or corrupt, or contain pickled code, which we refuse to load. "
            "Re-download or re-save it with `pamnet convert-official` or `save_checkpoint`."
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: expected a dict checkpoint, found {type(obj).__name__}")
    return obj


def load_checkpoint(
    path: str | os.PathLike | io.BytesIO, device: str | torch.device = "auto"
) -> LoadedModel:
    """Load one of our checkpoints; official state dicts go through `pamnet.compat.official`."""
    obj = read_payload(path)
    name = str(path) if isinstance(path, (str, os.PathLike)) else "uploaded checkpoint"
    if obj.get("format") != FORMAT or "model" not in obj or "config" not in obj:
        hint = ""
        if any(k.startswith("global_layer.") for k in obj):
            hint = (
                " It looks like an official PAMNet state dict: convert it with "
                "`pamnet convert-official SRC --config JSON -o DST`."
            )
        raise CheckpointError(
            f"{name}: not a PAMNet Studio checkpoint (no '{FORMAT}' header).{hint}"
        )
    try:
        config = ModelConfig.from_dict(obj["config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{name}: its config is invalid: {exc}") from None
    model = PAMNet(config)
    try:
        model.load_state_dict(obj["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{name}: weights do not fit its config: {str(exc)[:300]}") from None
    specialists = from_payload(obj.get("specialists"), model, name)
    for s in specialists.values():
        s.model.to(resolve_device(device))
    model.to(resolve_device(device)).eval()
    targets = list(obj.get("targets") or [f"target_{i}" for i in range(config.num_targets)])
    if any(t not in targets for t in specialists):
        raise CheckpointError(f"{name}: a specialist answers a target the model does not have")
    from pamnet.uncertainty import Calibration

    try:
        calibration = Calibration.from_dict(obj.get("calibration"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{name}: its calibration is invalid: {exc}") from None
    normalization = Normalization.from_dict(obj.get("normalization"))
    try:  # a dipole read with a mean or atom references added would be wrong, not refused
        check_dipole_normalization(config, normalization)
    except ConfigError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    return LoadedModel(
        model=model,
        targets=targets,
        units=dict(obj.get("units") or {}),
        normalization=normalization,
        metadata=dict(obj.get("metadata") or {}),
        path=name,
        calibration=calibration,
        specialists=specialists,
    )


def resave(loaded: LoadedModel, path: str | os.PathLike) -> None:
    """Write `loaded` (weights, targets, normalization, metadata, calibration) to path."""
    save_checkpoint(
        path,
        loaded.model,
        loaded.targets,
        loaded.units,
        loaded.normalization,
        loaded.metadata,
        loaded.calibration,
        loaded.specialists,
    )
