"""One structure's prediction (`Prediction`), a list of them (`PredictionSet`), and their
forms for people and programs: tables, SDF, JSON, values with their ±."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pamnet.data import GraphInput
from pamnet.uncertainty import Domain


@dataclass
class Prediction:
    """One structure's result. values: {target: value}; intervals: {target: (low, high)}
    at `level` (calibrated checkpoints); errors: {target: half-width}, the ± shown;
    spread: {target: standard deviation over conformers} (conformer ensembles);
    domain: where the structure stands against the training data; attention [L, N, 2]
    (global, local); contributions [L, N, T] in the targets' units, summing to the
    values (both averaged over the conformers of an ensemble; `structure` is its
    lowest-energy conformer)."""

    name: str
    n_atoms: int
    targets: list[str]
    units: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    level: float | None = None
    spread: dict[str, float] = field(default_factory=dict)
    conformers: int = 1
    domain: Domain | None = None
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
        if self.intervals:
            d["level"] = self.level
            d["intervals"] = {t: list(v) for t, v in self.intervals.items()}
        if self.conformers > 1:
            d["conformers"] = self.conformers
            d["spread"] = dict(self.spread)
        if self.domain is not None:
            d["domain"] = self.domain.to_dict()
        if self.error:
            d["error"] = self.error
        if attention and self.attention is not None:
            d["attention"] = self.attention.tolist()
            per_atom = self.contributions.sum(0)  # [N, T]
            d["contributions"] = {t: per_atom[:, k].tolist() for k, t in enumerate(self.targets)}
        return d


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


def with_error(value: float, error: float | None = None) -> str:
    """A value to the digits its interval supports: '5.01 ± 0.21', '-11234.568 ± 0.077'
    (the ± to 2 significant digits, the value to the same decimal place); 4 significant
    digits without an interval; 'n/a' for a value left out (NaN)."""
    text, err = split_error(value, error)
    return text if err is None else f"{text} ± {err}"


def split_error(value: float, error: float | None = None) -> tuple[str, str | None]:
    """`with_error`'s two parts: ('5.01', '0.21'), ('5.012', None) without an interval."""
    import math

    if value is None or not math.isfinite(value):
        return "n/a", None
    if error is None or not math.isfinite(error) or error <= 0:
        return f"{value:.4g}", None
    place = 1 - math.floor(math.log10(error))  # decimals for 2 significant digits
    if place <= 0:
        step = 10 ** (-place)
        return f"{round(value / step) * step:.0f}", f"{round(error / step) * step:.0f}"
    return f"{value:.{place}f}", f"{error:.{place}f}"


def column(target: str, unit: str, error: bool = False) -> str:
    """Table header of a target's value ('gap [eV]') or its interval half-width
    ('gap ± [eV]')."""
    name = f"{target} ±" if error else target
    return f"{name} [{unit}]" if unit else name


def to_frame(predictions: list[Prediction]):
    """A pandas table: name, n_atoms, per target its value ('u0 [eV]') and, when
    calibrated, the half-width of its interval ('u0 ± [eV]'; the level in column
    'level'), conformers, domain, warnings, error."""
    import pandas as pd

    calibrated = any(p.intervals for p in predictions)
    ensembles = any(p.conformers > 1 for p in predictions)
    rows = []
    for p in predictions:
        row = {"name": p.name, "n_atoms": p.n_atoms}
        for t in p.targets:
            unit = p.units.get(t, "")
            row[column(t, unit)] = p.values.get(t, float("nan"))
            if calibrated:
                row[column(t, unit, error=True)] = p.errors.get(t, float("nan"))
        if calibrated:
            row["level"] = p.level
        if ensembles:
            row["conformers"] = p.conformers if p.ok else None
        row["domain"] = p.domain.summary() if p.domain else ""
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
            **{column(t, p.units.get(t, "")): v for t, v in p.values.items()},
            **{column(t, p.units.get(t, ""), error=True): e for t, e in p.errors.items()},
            **({"level": p.level} if p.errors else {}),
            **({"domain": p.domain.summary()} if p.domain else {}),
            **({"warnings": "; ".join(p.warnings)} if p.warnings else {}),
        }
        for p in kept
    ]
    return write_sdf([p.structure for p in kept], predictions=props)


def untrained(allowed: dict, targets, elements) -> tuple[list[str], str]:
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
