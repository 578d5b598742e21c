"""Predictions in physical units, one structure or many, with warnings per row.

`Predictor` wraps a loaded checkpoint: it featurizes structures for the
checkpoint's task, runs batches on the chosen device, converts outputs to the
checkpoint's units, and (on request) returns the fusion attention and per-atom
contributions, also in physical units and summing exactly to the prediction.
A structure that cannot be used becomes a failed row; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from pamnet import inference
from pamnet._callable import make_callable
from pamnet.checkpoint import LoadedModel
from pamnet.data import GraphInput, collate
from pamnet.device import describe, resolve
from pamnet.errors import PamnetError
from pamnet.prediction import (  # noqa: F401 - re-exported: pamnet.predict's public names
    Prediction,
    PredictionSet,
    column,
    split_error,
    to_frame,
    to_sdf,
    untrained,
    with_error,
)
from pamnet.targets import NONNEGATIVE, impossible
from pamnet.uncertainty import DEFAULT_CONFORMERS, DEFAULT_LEVEL, Domain, assess, check_level

Item = object  # a Structure, a GraphInput, a SMILES string, or a `pamnet.io.Record`


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
    warnings, unless keep_impossible. level: of the intervals of a calibrated
    checkpoint (`pamnet.uncertainty`). conformers: SMILES inputs are predicted over up
    to that many MMFF conformers (`conformers_from_smiles`); values are their mean,
    and their spread widens the interval."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str | torch.device = "auto",
        max_atoms: int | None = None,
        keep_impossible: bool = False,
        level: float = DEFAULT_LEVEL,
        conformers: int = DEFAULT_CONFORMERS,
    ):
        check_level(level)
        self.loaded = loaded
        self.keep_impossible = keep_impossible
        self.level = level
        self.conformers = max(1, int(conformers))
        self.device = resolve(device)
        self.model = loaded.combined.to(self.device).eval()
        self.max_atoms = max_atoms or MAX_ATOMS.get(self.task, MAX_ATOMS["rna"])

    @classmethod
    def from_name(cls, name_or_path: str | None = None, device: str = "auto", **kw) -> Predictor:
        from pamnet import registry

        dev = resolve(device)
        return cls(registry.load(name_or_path, dev), dev, **kw)

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

        if isinstance(item, GraphInput):
            return item, [], None
        if isinstance(item, Record):
            item = item.unwrap()
        structure = from_smiles(item) if isinstance(item, str) else item
        return self._prepare_structure(structure, item, **featurize_kw)

    def _conformer_smiles(self, item: Item, conformers: int) -> tuple[str, str] | None:
        """(SMILES, name) where `prepare_all` builds conformers from a SMILES, else None."""
        from pamnet.io.smiles import smiles_source

        if conformers <= 1 or self.task != "molecule":
            return None
        return smiles_source(item)

    def prepare_all(
        self, item: Item, conformers: int | None = None, built=None, **featurize_kw
    ) -> list[tuple[GraphInput, list[str], object]]:
        """`prepare` for each conformer of an item: one, or for a SMILES (a string, or a
        structure built from one) with `conformers` > 1 (default: the predictor's), each
        of its conformers; built: those conformers (or their error), from `conformers_many`."""
        conformers = self.conformers if conformers is None else conformers
        from pamnet.io.smiles import conformers_from_smiles

        wanted = self._conformer_smiles(item, conformers)
        if wanted is None:
            return [self.prepare(item, **featurize_kw)]
        if isinstance(built, str):
            raise PamnetError(built)
        item = item.unwrap() if hasattr(item, "unwrap") else item  # a Record
        found = built or conformers_from_smiles(wanted[0], conformers, name=wanted[1])
        if not isinstance(item, str):
            for s in found:
                s.source, s.warnings = item.source, list(item.warnings)
        return [self._prepare_structure(s, s, **featurize_kw) for s in found]

    def _prepare_structure(self, structure, item, **featurize_kw):
        from pamnet.structure import Structure

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
        hidden, note = untrained(allowed, row.targets, row.structure.elements)
        for t in hidden:
            row.values[t] = float("nan")
            row.intervals.pop(t, None)
            row.errors.pop(t, None)
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
        """Notes on the input itself (how it was read or built, missing hydrogens); where
        it stands against the training data is `domain`."""
        warnings = list(getattr(structure, "warnings", []) or [])
        if self.task == "molecule":
            if not any(e == "H" for e in structure.elements) and structure.n_atoms > 1:
                warnings.append("hydrogens: none present; QM9 models expect explicit hydrogens")
        return warnings

    @property
    def limits(self) -> dict:
        """What the training data had (`pamnet.uncertainty.assess`): from the calibration,
        else what the metadata says (QM9's own limits for a QM9 model)."""
        cal = self.loaded.calibration
        if cal is not None:
            return cal.limits
        from pamnet import qm9

        geometry = self.loaded.metadata.get("geometry")
        if self._qm9_model:
            return {
                "dataset": "QM9",
                "max_heavy": qm9.MAX_HEAVY,
                "max_atoms": qm9.MAX_ATOMS,
                "charged": False,
                "geometry": geometry,
            }
        return {"geometry": geometry}

    def domain(self, structure, r: float | None = None) -> Domain:
        """Where `structure` (at latent distance ratio r) stands against the training data."""
        return assess(structure, self.limits, r, self.loaded.calibration)

    @torch.no_grad()
    def predict(
        self,
        items: Iterable[Item],
        attention: bool = False,
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        level: float | None = None,
        conformers: int | None = None,
        **featurize_kw,
    ) -> PredictionSet:
        """One Prediction per item, in order; failed items carry `error` and no values.
        Stale targets (`checkpoint.stale_targets`: heads kept from a fine-tune's base
        whose layers it retrained) are left out. level, conformers: this call's, instead
        of the predictor's."""
        from pamnet.io.smiles import conformers_many

        if level is not None:
            check_level(level)
        level = self.level if level is None else level
        conformers = self.conformers if conformers is None else max(1, int(conformers))
        items = list(items)
        lm, targets = self.loaded, self.loaded.shown_targets
        cols = [lm.targets.index(t) for t in targets]
        cal = lm.calibration
        results = PredictionSet()
        ready: list[tuple[int, GraphInput]] = []  # (row, input), one per conformer
        wanted = [self._conformer_smiles(item, conformers) for item in items]
        todo = [w for w in wanted if w is not None]
        # SMILES conformers built ahead, in as many processes as this job's torch threads
        ahead = conformers_many([w[0] for w in todo], conformers, [w[1] for w in todo],
                                torch.get_num_threads())  # fmt: skip
        for item, w in zip(items, wanted):
            name = getattr(item, "name", None) or (item if isinstance(item, str) else "")
            try:
                built = next(ahead) if w is not None else None
                prepared = self.prepare_all(item, conformers, built, **featurize_kw)
                inp, warnings, structure = prepared[0]
                row = Prediction(
                    str(inp.name or name),
                    inp.num_atoms,
                    targets,
                    lm.units,
                    warnings=warnings,
                    input=inp,
                    structure=structure,
                    conformers=len(prepared),
                )
                ready.extend((len(results), p[0]) for p in prepared)
            except PamnetError as exc:
                row = Prediction(str(name), 0, targets, lm.units, error=str(exc))
            results.append(row)
        ahead.close()
        rows_done = {i for i, r in enumerate(results) if not r.ok}
        if progress:
            progress(len(rows_done), len(results))
        values: dict[int, list] = {}
        latents: dict[int, list] = {}
        for start in range(0, len(ready), batch_size):
            chunk = ready[start : start + batch_size]
            batch = collate([inp for _, inp in chunk]).to(self.device)
            out = inference.run(
                self.model, batch, lm.normalization, attention, attention, latent=cal is not None
            )
            vals = out.values.cpu().numpy()[:, cols]
            contrib = out.contributions.cpu().numpy()[..., cols] if attention else None
            att = out.attention.cpu().numpy() if attention else None
            graph = batch.graph.cpu().numpy()
            for g, (idx, _) in enumerate(chunk):
                row = results[idx]
                first = idx not in values
                values.setdefault(idx, []).append(vals[g])
                if cal is not None:
                    latents.setdefault(idx, []).append(out.latent[g].float().cpu())
                if attention:  # summed over conformers (same atoms, same order) ...
                    mask = graph == g
                    row.attention = att[:, mask] + (0 if first else row.attention)
                    row.contributions = contrib[:, mask] + (0 if first else row.contributions)
                if len(values[idx]) == row.conformers:
                    if attention:  # ... and averaged: they still sum to the mean values
                        row.attention = row.attention / row.conformers
                        row.contributions = row.contributions / row.conformers
                    self.finish(row, np.stack(values[idx]), latents.get(idx), level)
                    rows_done.add(idx)
            if progress:
                progress(len(rows_done), len(results))
        return results

    def finish(self, row: Prediction, values: np.ndarray, latents: list | None, level) -> None:
        """Fill one row from its conformers' values [K, T] (and latents): mean, spread,
        domain, intervals, and the targets left out (untrained heads, impossible values)."""
        lm, cal = self.loaded, self.loaded.calibration
        mean = values.mean(0)
        row.values = {t: float(mean[k]) for k, t in enumerate(row.targets)}
        if len(values) > 1:
            sd = values.std(0, ddof=1)
            row.spread = {t: float(sd[k]) for k, t in enumerate(row.targets)}
        r = None
        if cal is not None:
            r = float(np.mean(cal.ratio(torch.stack(latents))))
        row.domain = self.domain(row.structure, r)
        if cal is not None:
            self._intervals(row, r, level)
        self._leave_out_untrained(row)
        for t, note in impossible(row.values, lm.units):
            row.warnings.append(note.replace("left out", "kept") if self.keep_impossible else note)
            if not self.keep_impossible:
                row.values[t] = float("nan")
                row.intervals.pop(t, None)
                row.errors.pop(t, None)

    def _intervals(self, row: Prediction, r: float, level: float) -> None:
        """The calibrated interval of each target at `level`, widened by the conformers'
        spread (added in quadrature at the level's normal quantile), clipped at zero for
        quantities that cannot be negative."""
        from statistics import NormalDist

        cal = self.loaded.calibration
        z = NormalDist().inv_cdf(0.5 + level / 2)
        row.level = level
        for t in row.targets:
            if t not in cal.quantiles:
                continue
            hw = float(cal.half_width(t, r, row.n_atoms, level))
            if not np.isfinite(hw):
                note = (f"no {100 * level:g}% interval: {cal.n} held-out structures are "
                        "too few for that level; choose a lower one")  # fmt: skip
                if note not in row.warnings:
                    row.warnings.append(note)
                continue
            hw = float(np.hypot(hw, z * row.spread.get(t, 0.0)))
            v = row.values[t]
            low = max(v - hw, 0.0) if t in NONNEGATIVE else v - hw
            row.errors[t] = hw
            row.intervals[t] = (low, v + hw)


def predict(
    items: Iterable[Item] | Item,
    checkpoint: str | None = None,
    device: str = "auto",
    attention: bool = False,
    **kw,
) -> PredictionSet:
    """Predict with a named or path checkpoint (default: the shipped QM9 model for the
    inputs' geometry, `pamnet.registry.default_name`). Items: Structures, SMILES
    strings, `Record`s, or `pathlib.Path`s of files, each giving one row per record.
    level, conformers, keep_impossible: see `Predictor`; other keywords go to
    `Predictor.predict`."""
    from pathlib import Path

    from pamnet import registry
    from pamnet.io import read_records

    if isinstance(items, str | Path) or not isinstance(items, Iterable):
        items = [items]
    items = [r for it in items for r in (read_records(it) if isinstance(it, Path) else [it])]
    name = checkpoint or registry.default_name(registry.input_geometry(items))
    options = {k: kw.pop(k) for k in ("level", "conformers", "keep_impossible") if k in kw}
    predictor = Predictor.from_name(name, device, **options)
    return predictor.predict(items, attention=attention, **kw)


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
