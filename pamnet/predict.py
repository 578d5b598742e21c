"""Predictions in physical units, one structure or many, with warnings per row.

`Predictor` wraps a loaded checkpoint: it featurizes structures for the
checkpoint's task, runs batches on the chosen device, converts outputs to the
checkpoint's units, and (on request) returns the fusion attention and per-atom
contributions, also in physical units and summing exactly to the prediction.
A structure that cannot be used becomes a failed row; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from pamnet import inference
from pamnet._callable import make_callable
from pamnet.checkpoint import LoadedModel
from pamnet.data import GraphInput, collate
from pamnet.device import describe, resolve
from pamnet.errors import PamnetError
from pamnet.targets import impossible

# Largest QM9 molecule: 9 heavy atoms (29 atoms with H).
QM9_MAX_HEAVY = 9


@dataclass
class Prediction:
    """One structure's result. values: {target: value}; attention [L, N, 2] (global,
    local); contributions [L, N, T] in the targets' units, summing to the values."""

    name: str
    n_atoms: int
    targets: list[str]
    units: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    attention: np.ndarray | None = None
    contributions: np.ndarray | None = None
    input: GraphInput | None = field(default=None, repr=False)
    structure: object | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, attention: bool = False) -> dict:
        """JSON-ready: name, n_atoms, predictions, units, warnings (+ attention, contributions)."""
        d = {
            "name": self.name,
            "n_atoms": self.n_atoms,
            "predictions": dict(self.values),
            "units": {t: self.units.get(t, "") for t in self.targets},
            "warnings": list(self.warnings),
        }
        if self.error:
            d["error"] = self.error
        if attention and self.attention is not None:
            d["attention"] = self.attention.tolist()
            per_atom = self.contributions.sum(0)  # [N, T]
            d["contributions"] = {t: per_atom[:, k].tolist() for k, t in enumerate(self.targets)}
        return d


Item = object  # a Structure, a GraphInput, a SMILES string, or a `pamnet.io.Record`


class PredictionSet(list):
    """A list of Prediction that shows itself as a table in Jupyter."""

    def to_frame(self):
        return to_frame(self)

    def to_sdf(self) -> str:
        return to_sdf(self)

    def to_json(self, attention: bool = False) -> list[dict]:
        return [p.to_dict(attention=attention) for p in self]

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True)


# Model-input rows one prediction may have, per task (`Predictor(max_atoms=...)` overrides):
# QM9-style models are for small molecules (QM9 has at most 29 atoms; a peptide of a few
# hundred atoms is already far outside it); a complex is its pocket and ligand, each
# twice (complex and apart); RNA mode builds kNN-50 graphs, ~0.5 GB per 10k atoms on CPU.
MAX_ATOMS = {"molecule": 1_000, "complex": 20_000, "rna": 50_000}
_TOO_LARGE_HINT = {
    "molecule": "molecule models are for small molecules; for a protein with a ligand use "
    "a complex-mode checkpoint",
    "complex": "lower the pocket cutoff or check that the ligand is a small molecule",
    "rna": "split the RNA into domains and predict them one by one",
}


class Predictor:
    """Predict with one checkpoint. `device`: 'auto' (GPU when present), 'cpu', 'cuda'.
    max_atoms: model-input rows allowed per structure (default `MAX_ATOMS[task]`).
    A value that cannot be (a negative dipole, polarizability, <R²>, ZPVE or heat
    capacity: `pamnet.targets.NONNEGATIVE`) is left out (NaN) with a note in the row's
    warnings, unless keep_impossible."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str | torch.device = "auto",
        max_atoms: int | None = None,
        keep_impossible: bool = False,
    ):
        self.loaded = loaded
        self.keep_impossible = keep_impossible
        self.device = resolve(device)
        self.model = loaded.model.to(self.device).eval()
        self.max_atoms = max_atoms or MAX_ATOMS.get(self.task, MAX_ATOMS["rna"])

    @classmethod
    def from_name(cls, name_or_path: str | None = None, device: str = "auto") -> Predictor:
        from pamnet import registry

        dev = resolve(device)
        return cls(registry.load(name_or_path, dev), dev)

    @property
    def task(self) -> str:
        return self.model.config.task

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def prepare(self, item: Item, **featurize_kw) -> tuple[GraphInput, list[str], object]:
        """(model input, warnings, structure) for a Structure, GraphInput, SMILES or
        Record (a failed record raises its error)."""
        from pamnet.io import Record, from_smiles
        from pamnet.structure import Structure

        if isinstance(item, GraphInput):
            return item, [], None
        if isinstance(item, Record):
            item = item.unwrap()
        structure = from_smiles(item) if isinstance(item, str) else item
        if not isinstance(structure, Structure):
            raise PamnetError(
                f"cannot predict for a {type(item).__name__}; give a Structure or SMILES"
            )
        if self.task == "molecule":  # one row per atom: check before featurizing
            self._check_size(structure.n_atoms, structure)
        inp = self.model.task.featurize(structure, **featurize_kw)
        if self.task != "molecule":
            self._check_size(inp.num_atoms, structure)
        elif self._qm9_model:  # over the bonds the model's local graph uses
            _one_fragment(structure, inp.bond_index.T.cpu().numpy())
        return inp, self.domain_warnings(structure), structure

    def _leave_out_untrained(self, row: Prediction) -> None:
        """NaN (with a note) for targets whose heads never met the row's elements: a
        fine-tune that added elements keeps its base's heads for the base's elements."""
        allowed = self.loaded.metadata.get("target_elements") or {}
        if not allowed or row.structure is None:
            return
        hidden, note = _untrained(allowed, row.targets, row.structure.elements)
        for t in hidden:
            row.values[t] = float("nan")
        if note:
            row.warnings.append(note)

    def _check_size(self, n: int, structure) -> None:
        if n > self.max_atoms:
            from pamnet.errors import TooLargeError

            raise TooLargeError(
                f"{structure.name or 'the structure'}: {n:,} atoms for the model, over the "
                f"{self.task} mode's limit of {self.max_atoms:,}; {_TOO_LARGE_HINT[self.task]}"
            )

    @property
    def _qm9_model(self) -> bool:
        # `pamnet train` records data.name; the dataset line is free text for people
        return (self.loaded.metadata.get("data") or {}).get("name") == "qm9"

    def domain_warnings(self, structure) -> list[str]:
        """Why a prediction may be less trustworthy than the model card's figures."""
        warnings = list(getattr(structure, "warnings", []) or [])
        meta = self.loaded.metadata
        expected = meta.get("geometry")
        got = getattr(structure, "geometry", None)
        if (
            expected
            and got
            and expected != "any"
            and got != expected
            and not (expected == "dft" and got == "file")
        ):
            warnings.append(
                f"geometry: model trained on {expected.upper()} geometries, this one is {got}"
            )
        qm9_model = self._qm9_model
        if self.task == "molecule":
            heavy = sum(e != "H" for e in structure.elements)
            if qm9_model and heavy > QM9_MAX_HEAVY:
                warnings.append(
                    f"size: {heavy} heavy atoms, QM9 molecules have at most {QM9_MAX_HEAVY}; extrapolation"
                )
            charges = getattr(structure, "formal_charges", None)
            if charges is not None and int(np.abs(charges).sum()) and qm9_model:
                warnings.append("charge: QM9 molecules are neutral; formal charges are ignored")
            if not any(e == "H" for e in structure.elements) and structure.n_atoms > 1:
                warnings.append("hydrogens: none present; QM9 models expect explicit hydrogens")
        return warnings

    @torch.no_grad()
    def predict(
        self,
        items: Iterable[Item],
        attention: bool = False,
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        **featurize_kw,
    ) -> PredictionSet:
        """One Prediction per item, in order; failed items carry `error` and no values.
        Stale targets (`checkpoint.stale_targets`: heads kept from a fine-tune's base
        whose layers it retrained) are left out."""
        items = list(items)
        lm, targets = self.loaded, self.loaded.shown_targets
        cols = [lm.targets.index(t) for t in targets]
        results = PredictionSet()
        ready: list[tuple[int, GraphInput]] = []
        for item in items:
            name = getattr(item, "name", None) or (item if isinstance(item, str) else "")
            try:
                inp, warnings, structure = self.prepare(item, **featurize_kw)
                row = Prediction(
                    str(inp.name or name),
                    inp.num_atoms,
                    targets,
                    lm.units,
                    warnings=warnings,
                    input=inp,
                    structure=structure,
                )
                ready.append((len(results), inp))
            except PamnetError as exc:
                row = Prediction(str(name), 0, targets, lm.units, error=str(exc))
            results.append(row)
        done = len(results) - len(ready)
        if progress:
            progress(done, len(results))
        for start in range(0, len(ready), batch_size):
            chunk = ready[start : start + batch_size]
            batch = collate([inp for _, inp in chunk]).to(self.device)
            out = inference.run(self.model, batch, lm.normalization, attention, attention)
            values = out.values.cpu().numpy()[:, cols]
            contrib = out.contributions.cpu().numpy()[..., cols] if attention else None
            att = out.attention.cpu().numpy() if attention else None
            graph = batch.graph.cpu().numpy()
            for g, (idx, _) in enumerate(chunk):
                row = results[idx]
                row.values = {t: float(values[g, k]) for k, t in enumerate(targets)}
                self._leave_out_untrained(row)
                for t, note in impossible(row.values, lm.units):
                    row.warnings.append(
                        note.replace("left out", "kept") if self.keep_impossible else note
                    )
                    if not self.keep_impossible:
                        row.values[t] = float("nan")
                if attention:
                    mask = graph == g
                    row.attention = att[:, mask]
                    row.contributions = contrib[:, mask]
            done += len(chunk)
            if progress:
                progress(done, len(results))
        return results


def _untrained(allowed: dict, targets, elements) -> tuple[list[str], str]:
    """Targets whose heads never met some of `elements`, and the note saying so."""
    present = set(elements)
    hidden = [t for t in targets if t in allowed and not present <= set(allowed[t])]
    if not hidden:
        return [], ""
    known = allowed[hidden[0]]
    extra = ", ".join(sorted(present - set(known)))
    return hidden, (
        f"not predicted: {', '.join(hidden)}; those heads were trained on molecules of "
        f"{', '.join(known)} only, and this one has {extra}"
    )


def predict(
    items: Iterable[Item] | Item,
    checkpoint: str | None = None,
    device: str = "auto",
    attention: bool = False,
    **kw,
) -> PredictionSet:
    """Predict with a named or path checkpoint (default: the shipped QM9 model for the
    inputs' geometry, `pamnet.registry.default_name`). Items: Structures, SMILES
    strings, `Record`s, or `pathlib.Path`s of files, each giving one row per record."""
    from pathlib import Path

    from pamnet import registry
    from pamnet.io import read_records

    if isinstance(items, str | Path) or not isinstance(items, Iterable):
        items = [items]
    items = [r for it in items for r in (read_records(it) if isinstance(it, Path) else [it])]
    name = checkpoint or registry.default_name(registry.input_geometry(items))
    return Predictor.from_name(name, device).predict(items, attention=attention, **kw)


def to_frame(predictions: list[Prediction]):
    """A pandas table: name, n_atoms, one column per target ('u0 [eV]'), warnings, error."""
    import pandas as pd

    rows = []
    for p in predictions:
        row = {"name": p.name, "n_atoms": p.n_atoms}
        for t in p.targets:
            unit = p.units.get(t, "")
            row[f"{t} [{unit}]" if unit else t] = p.values.get(t, float("nan"))
        row["warnings"] = "; ".join(p.warnings)
        row["error"] = p.error or ""
        rows.append(row)
    return pd.DataFrame(rows)


def to_sdf(predictions: list[Prediction]) -> str:
    """SDF text of the predicted structures with each value as a property (failed rows skipped)."""
    from pamnet.io import write_sdf

    kept = [p for p in predictions if p.ok and p.structure is not None]
    props = [
        {
            **{f"{t} [{p.units.get(t, '')}]".replace(" []", ""): v for t, v in p.values.items()},
            **({"warnings": "; ".join(p.warnings)} if p.warnings else {}),
        }
        for p in kept
    ]
    return write_sdf([p.structure for p in kept], predictions=props)


def _one_fragment(structure, bonds) -> None:
    """`DisconnectedError` for several covalent fragments (a salt, a dimer): QM9
    molecules are single molecules, so such a prediction has no meaning there."""
    from pamnet.errors import DisconnectedError

    parts = structure.fragments(bonds)
    if len(parts) > 1:
        formulas = [structure.select(p).formula for p in parts[:4]]
        more = ", ..." if len(parts) > 4 else ""
        raise DisconnectedError(
            f"{structure.name or 'the structure'} has {len(parts)} disconnected fragments "
            f"({', '.join(formulas)}{more}); QM9 models were trained on single molecules. "
            f"Predict each fragment on its own (e.g. the largest, {formulas[0]})"
        )


make_callable(__name__, "predict")
