"""`Explanation`: what one prediction is made of, as arrays and pandas tables
(built by `pamnet.explain.explain`).

An `Explanation` holds, per model-input row (an atom; complexes hold each atom
twice, see below):

* the fusion attention [L, R, 2] (global, local) of each block;
* contributions [L, R, T] in the targets' units that add up exactly to the
  prediction: the model's per-atom, per-block outputs times the readout weight
  and the target's std, plus the atom's share of the normalization offset (mean
  and atom reference energies, kept separately in `offset` [R, T]);
* channels [L, R, 2, T]: the learned part of each contribution split exactly into
  what came through the block's global (non-local, distances only) layer and its
  local (bonds and short contacts, with angles) layer; per row, the two parts plus
  the offset are the contribution;
* optional Integrated Gradients (`pamnet.explain.attribution`).

Tables (`to_frame()` per atom, and `by_element`, `by_group`, `by_residue`,
`by_side`, `by_part`, `layer_frame`) are sums of the per-atom numbers, so they
agree with them by construction.

Complexes: the input holds the complex (+1), the pocket (-1) and the ligand (-1)
as three parts, so every atom appears twice. An atom's total contribution is its
complex-copy term plus its pocket- or ligand-copy term (`meta['rows']` maps each
row back to the original atom); its attention is the complex copy's.

Computed in float64 by default so the sums are exact to ~1e-12; values may then
differ from `pamnet predict` (float32) in the 6th-7th significant digit.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pamnet.data import GraphInput
from pamnet.errors import UnknownNameError
from pamnet.explain.attribution import Attribution
from pamnet.explain.groups import NO_GROUP, GroupMatches


@dataclass
class Explanation:
    """Attention, exact contributions and attributions of one prediction (see module doc).

    values: {target: value} in `units`. attention: [L, R, 2] (global, local).
    contributions: [L, R, T] float64, summing to the values. offset: [R, T], the
    normalization's part of the contributions (the learned part is the rest).
    rows: one row per model-input row: atom (index in its structure), side
    ('molecule', 'nucleic', 'pocket', 'ligand'), part, sign, element, label,
    residue. attributions: 'on:target' -> `Attribution`. groups: functional
    groups of the molecule (complexes: of the ligand), None where not computed.
    """

    name: str
    task: str
    checkpoint: str
    targets: list[str]
    units: dict[str, str]
    values: dict[str, float]
    attention: np.ndarray
    contributions: np.ndarray
    offset: np.ndarray
    rows: pd.DataFrame
    attributions: dict[str, Attribution] = field(default_factory=dict)
    groups: GroupMatches | None = None
    channels: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)  # ± of each value (calibrated)
    intervals: dict[str, list[float]] = field(default_factory=dict)  # [low, high] each
    level: float | None = None  # of those intervals
    domain: object | None = None  # `pamnet.uncertainty.Domain`
    specialists: list[str] = field(default_factory=list)  # targets `pamnet.specialists` answer
    input: GraphInput | None = field(default=None, repr=False)
    structure: object | None = field(default=None, repr=False)
    model: object | None = field(default=None, repr=False)  # the LoadedModel it came from
    _tables: dict = field(default_factory=dict, repr=False, compare=False)  # to_frame() cache

    def __getstate__(self) -> dict:
        # pickles and copies (st.cache_data) carry the numbers, not the model's weights
        return {**self.__dict__, "model": None}

    # --- names --------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return int(self.attention.shape[0])

    def column(self, target: str | int) -> str:
        """Table column of a target: 'u0 [eV]' (or the bare name without unit)."""
        t = self.targets[self.target_index(target)]
        unit = self.units.get(t, "")
        return f"{t} [{unit}]" if unit else t

    def target_index(self, target: str | int | None) -> int:
        if target is None:
            return 0
        if isinstance(target, int | np.integer):
            if not 0 <= int(target) < len(self.targets):
                raise UnknownNameError(
                    f"target {target} out of range; this model has {len(self.targets)}"
                )
            return int(target)
        if target not in self.targets:
            raise UnknownNameError(f"unknown target {target!r}; this model predicts {self.targets}")
        return self.targets.index(target)

    @property
    def has_offset(self) -> bool:
        return bool(np.any(self.offset != 0))

    def _value_columns(self, frame: pd.DataFrame) -> list[str]:
        """Additive columns of a per-row/per-atom table (everything but attention)."""
        keep = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        return [c for c in keep if not c.endswith("share") and c != "sign"]

    # --- per row / per atom -------------------------------------------------
    def row_frame(self) -> pd.DataFrame:
        """One line per model-input row: identity, mean attention, contributions, IG."""
        df = self.rows.copy()
        df["global share"] = self.attention[:, :, 0].mean(0)
        df["local share"] = self.attention[:, :, 1].mean(0)
        per_row = self.contributions.sum(0)  # [R, T]
        via = self.channels.sum(0) if self.channels is not None else None  # [R, 2, T]
        for k in range(len(self.targets)):
            df[self.column(k)] = per_row[:, k]
            if self.has_offset:
                df[f"{self.column(k)} offset"] = self.offset[:, k]
            if via is not None:
                df[f"{self.column(k)} via global"] = via[:, 0, k]
                df[f"{self.column(k)} via local"] = via[:, 1, k]
        for a in self.attributions.values():
            df[f"IG {a.on} {self.column(a.target)}"] = a.per_row
        return df

    def to_frame(self) -> pd.DataFrame:
        """One line per atom (complex: both copies added): element, label, residue,
        mean global/local share, contribution per target (+ offset), IG columns.
        Complexes also get '<target> complex term' and '<target> own term'. Built once
        per set of attributions (every summary table starts from it)."""
        key = tuple(sorted(self.attributions))
        if key not in self._tables:
            self._tables.clear()
            self._tables[key] = self._atom_frame()
        return self._tables[key].copy()

    def _atom_frame(self) -> pd.DataFrame:
        rows = self.row_frame()
        keys = ["side", "atom"]
        values = self._value_columns(rows)
        first = rows.groupby(keys, sort=False).first()
        out = first[["element", "label", "residue", "global share", "local share"]].copy()
        out[values] = rows.groupby(keys, sort=False)[values].sum()
        if self.task == "complex":
            own = rows["part"] != "complex"
            for k in range(len(self.targets)):
                col = self.column(k)
                split = rows[[*keys, col]].assign(own=own)
                out[f"{col} complex term"] = split[~split.own].groupby(keys, sort=False)[col].sum()
                out[f"{col} own term"] = split[split.own].groupby(keys, sort=False)[col].sum()
        return out.reset_index()

    def per_atom(self, target: str | int | None = None, learned: bool = False) -> np.ndarray:
        """[A] total contribution per atom in `to_frame()` order; learned=True drops the
        normalization offset (what the network itself added)."""
        df = self.to_frame()
        col = self.column(self.target_index(target))
        v = df[col].to_numpy()
        if learned and self.has_offset:
            v = v - df[f"{col} offset"].to_numpy()
        return v

    def atom_layers(
        self, atom: int, side: str | None = None, learned: bool = False
    ) -> pd.DataFrame:
        """Per block for one atom: global/local share of each copy and the contribution
        per target (copies added); learned=True drops the offset (split evenly over blocks)."""
        side = side or self.rows["side"].iloc[0]
        mask = ((self.rows["atom"] == atom) & (self.rows["side"] == side)).to_numpy()
        if not mask.any():
            raise UnknownNameError(f"no {side} atom {atom} in this explanation")
        out = pd.DataFrame({"block": np.arange(1, self.n_layers + 1)})
        for r in np.nonzero(mask)[0]:
            part = self.rows["part"].iloc[r]
            tag = f" ({part} copy)" if self.task == "complex" else ""
            out[f"global share{tag}"] = self.attention[:, r, 0]
            out[f"local share{tag}"] = self.attention[:, r, 1]
        for k in range(len(self.targets)):
            c = self.contributions[:, mask, k].sum(1)
            if learned:
                c = c - self.offset[mask, k].sum() / self.n_layers
            out[self.column(k)] = c
        return out

    # --- summaries ----------------------------------------------------------
    def _sum_by(self, frame: pd.DataFrame, keys) -> pd.DataFrame:
        values = self._value_columns(frame)
        g = frame.groupby(keys, sort=False)
        out = g.size().rename("n_atoms").to_frame()
        out["global share"] = g["global share"].mean()
        out[values] = g[values].sum()
        return out.reset_index()

    def layer_frame(self) -> pd.DataFrame:
        """Per block: mean global share over rows and each target's contribution (and its
        parts through the global and the local layer)."""
        out = pd.DataFrame({"block": np.arange(1, self.n_layers + 1)})
        out["global share"] = self.attention[:, :, 0].mean(1)
        for k in range(len(self.targets)):
            out[self.column(k)] = self.contributions[:, :, k].sum(1)
            if self.channels is not None:
                out[f"{self.column(k)} via global"] = self.channels[:, :, 0, k].sum(1)
                out[f"{self.column(k)} via local"] = self.channels[:, :, 1, k].sum(1)
        return out

    def channel_frame(self) -> pd.DataFrame:
        """Per target: how much of the prediction came through the global (non-local)
        layers, through the local layers, and from the normalization's offset (mean and
        atom references, not learned per structure); the three add up to the value."""
        if self.channels is None:
            raise UnknownNameError("this explanation has no global/local split; re-run explain")
        lines = []
        for k, t in enumerate(self.targets):
            glob = float(self.channels[:, :, 0, k].sum())
            loc = float(self.channels[:, :, 1, k].sum())
            learned = abs(glob) + abs(loc)
            lines.append({
                "target": t, "unit": self.units.get(t, ""), "value": self.values[t],
                "via global": glob, "via local": loc, "offset": float(self.offset[:, k].sum()),
                "local fraction": abs(loc) / learned if learned else float("nan"),
            })  # fmt: skip
        return pd.DataFrame(lines)

    def by_element(self) -> pd.DataFrame:
        """Per element: n_atoms, mean global share, sums of the per-atom columns."""
        return self._sum_by(self.to_frame(), "element")

    def by_group(self) -> pd.DataFrame:
        """Per functional group (see `pamnet.explain.groups` for how atoms are counted):
        group, n_matches, n_atoms, mean global share, sums. Complexes: ligand groups."""
        atoms = self.to_frame()
        if self.groups is None:
            return pd.DataFrame(columns=["group", "n_matches", "n_atoms"])
        side = "ligand" if self.task == "complex" else atoms["side"].iloc[0]
        mine = atoms[atoms["side"] == side]
        values = self._value_columns(atoms)
        lines = []
        members = dict(self.groups.atoms)
        members[NO_GROUP] = self.groups.ungrouped()
        for name, idx in members.items():
            sel = mine[mine["atom"].isin(idx)]
            if sel.empty:
                continue
            line = {
                "group": name,
                "n_matches": self.groups.n_matches.get(name, 0),
                "n_atoms": len(sel),
                "global share": sel["global share"].mean(),
            }
            line.update(sel[values].sum().to_dict())
            lines.append(line)
        return pd.DataFrame(lines)

    def by_residue(self) -> pd.DataFrame:
        """Per residue (complex: pocket residues and the ligand; RNA: nucleotides).
        Empty when the structure has no residues (small molecules)."""
        atoms = self.to_frame()
        atoms = atoms[atoms["residue"].notna()]
        if atoms.empty:
            return pd.DataFrame(columns=["side", "residue", "n_atoms"])
        return self._sum_by(atoms, ["side", "residue"])

    def by_side(self) -> pd.DataFrame:
        """Per side (complex: ligand vs pocket, each atom's two copies added; the rows
        add up to the prediction). Other tasks: one row."""
        return self._sum_by(self.to_frame(), "side")

    def by_part(self) -> pd.DataFrame:
        """Per input part (complex: complex +1, pocket -1, ligand -1 copies), signed."""
        return self._sum_by(self.row_frame(), "part")

    # --- output -------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready summary: predictions, attention, per-atom and summary tables, IG."""

        def records(df: pd.DataFrame) -> list[dict]:
            return df.astype(object).where(df.notna(), None).to_dict(orient="records")

        d = {
            "name": self.name,
            "task": self.task,
            "checkpoint": self.checkpoint,
            "predictions": dict(self.values),
            **({"specialists": list(self.specialists)} if self.specialists else {}),
            **({"level": self.level, "intervals": self.intervals} if self.intervals else {}),
            **({"domain": self.domain.to_dict()} if self.domain is not None else {}),
            "channels": records(self.channel_frame()) if self.channels is not None else None,
            "units": {t: self.units.get(t, "") for t in self.targets},
            "warnings": list(self.warnings),
            "attention": self.attention.tolist(),
            "atoms": records(self.to_frame()),
            "layers": records(self.layer_frame()),
            "by_element": records(self.by_element()),
            "by_group": records(self.by_group()),
            "by_residue": records(self.by_residue()),
            "by_side": records(self.by_side()),
            "attributions": [
                {
                    "on": a.on,
                    "target": a.target,
                    "baseline": a.baseline,
                    "n_steps": a.n_steps,
                    "f_input": a.f_input,
                    "f_baseline": a.f_baseline,
                    "completeness_error": a.delta,
                }
                for a in self.attributions.values()
            ],
        }
        return d

    def _repr_html_(self) -> str:
        preds = ", ".join(
            f"{html.escape(t)} = {v:.6g} {html.escape(self.units.get(t, ''))}"
            for t, v in self.values.items()
        )
        head = (
            f"<b>{html.escape(self.name or 'structure')}</b> &middot; "
            f"{html.escape(self.checkpoint)} &middot; {preds}<br>"
            f"{self.rows.shape[0]} rows, {self.n_layers} blocks; contributions by element:"
        )
        table = self.by_element().to_html(index=False, float_format=lambda x: f"{x:.4g}")
        return f"<div>{head}{table}</div>"

    def __repr__(self) -> str:
        preds = ", ".join(f"{t}={v:.6g}" for t, v in self.values.items())
        return f"Explanation({self.name!r}, {self.task}, {self.rows.shape[0]} rows, {preds})"
