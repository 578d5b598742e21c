"""`explain`: what one prediction is made of, as arrays and pandas tables.

An `Explanation` holds, per model-input row (an atom; complexes hold each atom
twice, see below):

* the fusion attention [L, R, 2] (global, local) of each block;
* contributions [L, R, T] in the targets' units that add up exactly to the
  prediction: the model's per-atom, per-block outputs times the readout weight
  and the target's std, plus the atom's share of the normalization offset (mean
  and atom reference energies, kept separately in `offset` [R, T]);
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
import torch

from pamnet import inference
from pamnet.data import GraphInput, collate
from pamnet.errors import ConfigError
from pamnet.explain.attribution import BASELINES, ON, Attribution, integrated_gradients
from pamnet.explain.attribution import private_copy as _private_copy
from pamnet.explain.groups import NO_GROUP, GroupMatches, match_groups
from pamnet.tasks import get_task

PART_NAMES = {"complex": ("complex", "pocket", "ligand")}
IG_TOLERANCE = 0.01  # completeness error the steps are doubled to reach, relative
MAX_IG_STEPS = 800
COMPLEX_CLASSES = ("B", "C", "N", "O", "P", "S", "Se", "X", "M")  # X halogen, M metal


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
    warnings: list[str] = field(default_factory=list)
    input: GraphInput | None = field(default=None, repr=False)
    structure: object | None = field(default=None, repr=False)
    model: object | None = field(default=None, repr=False)  # the LoadedModel it came from

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
                raise IndexError(f"target {target} out of range; have {len(self.targets)}")
            return int(target)
        if target not in self.targets:
            raise KeyError(f"unknown target {target!r}; this model predicts {self.targets}")
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
        for k in range(len(self.targets)):
            df[self.column(k)] = per_row[:, k]
            if self.has_offset:
                df[f"{self.column(k)} offset"] = self.offset[:, k]
        for a in self.attributions.values():
            df[f"IG {a.on} {self.column(a.target)}"] = a.per_row
        return df

    def to_frame(self) -> pd.DataFrame:
        """One line per atom (complex: both copies added): element, label, residue,
        mean global/local share, contribution per target (+ offset), IG columns.
        Complexes also get '<target> complex term' and '<target> own term'."""
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
            raise KeyError(f"no {side} atom {atom} in this explanation")
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
        """Per block: mean global share over rows and each target's contribution."""
        out = pd.DataFrame({"block": np.arange(1, self.n_layers + 1)})
        out["global share"] = self.attention[:, :, 0].mean(1)
        for k in range(len(self.targets)):
            out[self.column(k)] = self.contributions[:, :, k].sum(1)
        return out

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


# --- building one --------------------------------------------------------------
def _loaded(checkpoint, device):
    from pamnet.checkpoint import LoadedModel
    from pamnet.model import PAMNet
    from pamnet.predict import Predictor

    if isinstance(checkpoint, Predictor):
        return checkpoint.loaded
    if isinstance(checkpoint, LoadedModel):
        return checkpoint
    if isinstance(checkpoint, PAMNet):
        n = checkpoint.config.num_targets
        return LoadedModel(checkpoint, [f"target_{i}" for i in range(n)], path="(model)")
    from pamnet import registry

    return registry.load(checkpoint, device)


def _residue(s, i: int) -> str | None:
    if s is None or s.residue_names is None:
        return None
    chain = s.chain_ids[i] if s.chain_ids else ""
    num = int(s.residue_numbers[i]) if s.residue_numbers is not None else ""
    icode = s.insertion_codes[i].strip() if s.insertion_codes else ""
    return f"{s.residue_names[i]} {chain}{num}{icode}".strip()


def _element_guess(inp: GraphInput, task: str, r: int) -> str:
    table = get_task(task).elements
    if inp.atom_type is not None and table is not None:
        t = int(inp.atom_type[r])
        return table[t] if t < len(table) else "?"
    if inp.atom_feat is not None:
        hot = np.nonzero(inp.atom_feat[r, : len(COMPLEX_CLASSES)].cpu().numpy())[0]
        return COMPLEX_CLASSES[hot[0]] if len(hot) else "?"
    return "?"


def row_table(inp: GraphInput, task: str, structure=None, ligand=None) -> pd.DataFrame:
    """Per model-input row: atom, side, part, sign, element, label, residue."""
    n = inp.num_atoms
    meta = inp.meta or {}
    part_id = np.zeros(n, int) if inp.part is None else inp.part.cpu().numpy()
    sign = np.ones(n) if inp.sign is None else inp.sign.double().cpu().numpy()
    names = PART_NAMES.get(task, ())
    part = [names[p] if p < len(names) else task for p in part_id]
    if "rows" in meta:
        sides = [role for role, _ in meta["rows"]]
        atoms = [int(i) for _, i in meta["rows"]]
    else:
        atoms = [int(i) for i in meta.get("atom_index", range(n))]
        sides = ["nucleic" if task == "rna" else "molecule"] * n
    lig = ligand if ligand is not None else structure
    lig_res = f"{meta.get('ligand_resname', 'LIG')} (ligand)"
    elements, labels, residues = [], [], []
    for r, (side, i) in enumerate(zip(sides, atoms)):
        s = lig if side == "ligand" else structure
        if s is not None and i < s.n_atoms:
            elements.append(s.elements[i])
            labels.append(s.atom_label(i))
            res = _residue(s, i)
        else:
            elements.append(_element_guess(inp, task, r))
            labels.append(f"{elements[-1]}{i + 1}")
            res = None
        residues.append(lig_res if side == "ligand" and res is None else res)
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "atom": atoms,
            "side": sides,
            "part": part,
            "sign": sign,
            "element": elements,
            "label": labels,
            "residue": residues,
        }
    )


def _groups(task: str, structure, ligand, resname, warnings: list[str]) -> GroupMatches | None:
    """Functional groups of the molecule, or of a complex's ligand (in its own numbering)."""
    from pamnet.errors import PamnetError

    if structure is None or task == "rna":
        return None
    s, idx = (ligand if ligand is not None else structure), None
    try:
        if task == "complex" and ligand is None:
            from pamnet.featurize import find_ligand

            idx = find_ligand(structure, resname)
            s = structure.select(idx)
        matches = match_groups(s)
    except PamnetError as exc:
        warnings.append(f"functional groups not computed: {exc}")
        return None
    if idx is None:
        return matches
    atoms = {k: idx[v].tolist() for k, v in matches.atoms.items()}
    return GroupMatches(atoms, matches.n_matches, structure.n_atoms)


def explain(
    item,
    checkpoint=None,
    *,
    ig_steps: int = 0,
    ig_target: str | int | None = None,
    ig_on: tuple[str, ...] = ON,
    ig_tolerance: float | None = IG_TOLERANCE,
    device: str = "cpu",
    dtype: torch.dtype = torch.float64,
    **featurize_kw,
) -> Explanation:
    """Explain the prediction of `checkpoint` for `item`.

    item: a `Structure`, a SMILES string or a `GraphInput`. checkpoint: a name or
    path (None: the default model), a `LoadedModel`, a `Predictor` or a bare
    `PAMNet`. ig_steps > 0 adds Integrated Gradients of `ig_target` (default the
    first target) on each input in `ig_on` ('atoms', 'coords') with that many
    Gauss-Legendre steps, doubled until they add up within `ig_tolerance` (see
    `attribute`; None: exactly ig_steps). featurize_kw go to `Task.featurize`
    (complex mode: `ligand=Structure`, `ligand_resname=...`). Computed on a private
    `dtype` copy of the model (the shared one is never cast or hooked), on `device`,
    or on the Predictor's device when a Predictor is given.
    """
    from pamnet.predict import Predictor

    if isinstance(checkpoint, Predictor):  # keep its device: the model is shared
        predictor = checkpoint
    else:
        if checkpoint is None:  # the default for this input, as `predict` picks it
            from pamnet import registry

            checkpoint = registry.default_name(registry.input_geometry([item]))
        predictor = Predictor(_loaded(checkpoint, device), device)
    loaded = predictor.loaded
    inp, warnings, structure = predictor.prepare(item, **featurize_kw)
    task = predictor.task
    model = _private_copy(predictor.model, dtype)
    batch = collate([inp]).to(predictor.device, dtype)
    out = inference.run(model, batch, loaded.normalization, attention=True, contributions=True)
    values = out.values[0].cpu().numpy()
    contrib = out.contributions.cpu().numpy()
    offset = np.zeros(contrib.shape[1:]) if out.offset is None else out.offset.cpu().numpy()
    ligand = featurize_kw.get("ligand")
    warnings = list(warnings) + list((inp.meta or {}).get("warnings", []))
    exp = Explanation(
        name=str(inp.name or getattr(structure, "name", "") or ""),
        task=task,
        checkpoint=str(loaded.path or ""),
        targets=list(loaded.targets),
        units=dict(loaded.units),
        values={t: float(values[k]) for k, t in enumerate(loaded.targets)},
        attention=out.attention.double().cpu().numpy(),
        contributions=contrib,
        offset=offset,
        rows=row_table(inp, task, structure, ligand),
        groups=_groups(task, structure, ligand, featurize_kw.get("ligand_resname"), warnings),
        warnings=warnings,
        input=inp,
        structure=structure,
        model=loaded,
    )
    if ig_steps > 0:
        for on in ig_on:
            attribute(exp, loaded, ig_target, on, ig_steps, dtype=dtype, tolerance=ig_tolerance)
    return exp


def attribute(
    exp: Explanation,
    checkpoint=None,
    target: str | int | None = None,
    on: str = "atoms",
    n_steps: int = 50,
    dtype: torch.dtype = torch.float64,
    tolerance: float | None = None,
    max_steps: int = MAX_IG_STEPS,
) -> Attribution:
    """Integrated Gradients of one target on `on` ('atoms' or 'coords'), in the target's
    units; stored in `exp.attributions['on:target']` and returned. `checkpoint` (default:
    the model `exp` was made with) must be the one `exp` was made with.

    tolerance: if given, the steps double (up to `max_steps`) until the completeness
    error |sum - (f(x) - f(x'))| is within `tolerance` times |f(x) - f(x')|. Atom
    inputs usually converge at 50 steps; coordinates can need a few hundred (the
    expansion path sweeps the oscillating radial bases). `n_steps` is what was used.
    """
    if checkpoint is None and exp.model is None:
        raise ConfigError("this explanation holds no model: pass the checkpoint it was made with")
    loaded = exp.model if checkpoint is None else _loaded(checkpoint, "cpu")
    k = exp.target_index(target)
    norm = loaded.normalization
    scale = float(norm.std[k]) if norm is not None else 1.0
    name = exp.targets[k]
    offset = float(exp.offset[:, k].sum())  # the normalization offset cancels in f(x) - f(x')
    steps = n_steps
    while True:
        values, f_in, f_base = integrated_gradients(
            loaded.model, exp.input, k, on, steps, scale=scale, dtype=dtype
        )
        a = Attribution(
            on=on,
            target=name,
            unit=exp.units.get(name, ""),
            values=values,
            f_input=f_in + offset,
            f_baseline=f_base + offset,
            n_steps=steps,
            baseline=BASELINES[on],
        )
        if tolerance is None or a.relative_error <= tolerance or steps * 2 > max_steps:
            break
        steps *= 2
    exp.attributions[f"{on}:{name}"] = a
    return a


__all__ = ["Explanation", "attribute", "explain", "row_table"]
