"""`explain` and `attribute`: build an `Explanation` (see pamnet.explain.explanation)
from a structure and a checkpoint, through the one inference path
(`pamnet.inference.run`), in float64 by default.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from pamnet import inference
from pamnet.data import GraphInput, collate
from pamnet.errors import ConfigError
from pamnet.explain.attribution import BASELINES, ON, Attribution, integrated_gradients
from pamnet.explain.attribution import private_copy as _private_copy
from pamnet.explain.explanation import Explanation
from pamnet.explain.groups import GroupMatches, match_groups
from pamnet.tasks import get_task

PART_NAMES = {"complex": ("complex", "pocket", "ligand")}
IG_TOLERANCE = 0.01  # completeness error the steps are doubled to reach, relative
MAX_IG_STEPS = 800
COMPLEX_CLASSES = ("B", "C", "N", "O", "P", "S", "Se", "X", "M")  # X halogen, M metal


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
    named = (inp.meta or {}).get("elements")
    if named is not None and len(named) == inp.num_atoms:
        return named[r]
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
    device: str = "auto",
    dtype: torch.dtype = torch.float64,
    progress: Callable[[float, str], None] | None = None,
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
    or on the Predictor's device when a Predictor is given. progress(fraction, what) is
    called before the forward pass, after each of its 2L layers and before the tables
    (large structures take seconds); whatever it raises stops the work there.
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
    hooks = _report_layers(model, progress, f"{inp.num_atoms} atoms") if progress else []
    batch = collate([inp]).to(predictor.device, dtype)
    try:
        out = inference.run(
            model, batch, loaded.normalization, attention=True, contributions=True, latent=True
        )
    finally:  # the copy is cached and shared by later calls
        for h in hooks:
            h.remove()
    if progress is not None:
        progress(1.0, "tables")
    shown = loaded.shown_targets  # stale heads (see `checkpoint.stale_targets`) left out
    cols = [loaded.targets.index(t) for t in shown]
    values = out.values[0].cpu().numpy()[cols]
    contrib = out.contributions.cpu().numpy()[..., cols]
    offset = (
        np.zeros(contrib.shape[1:]) if out.offset is None else out.offset.cpu().numpy()[:, cols]
    )
    ligand = featurize_kw.get("ligand")
    warnings = list(warnings) + list((inp.meta or {}).get("warnings", []))
    exp = Explanation(
        name=str(inp.name or getattr(structure, "name", "") or ""),
        task=task,
        checkpoint=str(loaded.path or ""),
        targets=list(shown),
        units=dict(loaded.units),
        values={t: float(values[k]) for k, t in enumerate(shown)},
        attention=out.attention.double().cpu().numpy(),
        contributions=contrib,
        offset=offset,
        rows=row_table(inp, task, structure, ligand),
        groups=_groups(task, structure, ligand, featurize_kw.get("ligand_resname"), warnings),
        channels=out.channels.cpu().numpy()[..., cols],
        warnings=warnings,
        specialists=[t for t in shown if t in loaded.specialists],
        input=inp,
        structure=structure,
        model=loaded,
    )
    _trust(exp, predictor, inp, structure, out.latent)
    if ig_steps > 0:
        for on in ig_on:
            attribute(exp, loaded, ig_target, on, ig_steps, dtype=dtype, tolerance=ig_tolerance)
    return exp


def _report_layers(model, progress: Callable[[float, str], None], what: str) -> list:
    """progress(k / (2L + 1), ...) after each layer of `model`; returns the hook handles."""
    layers = [m for pair in zip(model.global_layer, model.local_layer) for m in pair]
    total = len(layers) + 1
    progress(0.0, f"{what}: building the graphs")
    handles = []
    for k, layer in enumerate(layers):
        done = (
            f"{what}: block {k // 2 + 1} of {len(layers) // 2}, {('global', 'local')[k % 2]} layer"
        )

        def hook(module, inputs, output, k=k, done=done) -> None:  # None: output kept
            progress((k + 1) / total, done)

        handles.append(layer.register_forward_hook(hook))
    return handles


def _trust(exp: Explanation, predictor, inp, structure, latent) -> None:
    """The explained values' intervals and domain, as `Predictor.predict` gives them."""
    from pamnet.predict import Prediction

    row = Prediction(exp.name, inp.num_atoms, exp.targets, exp.units, structure=structure)
    values = np.array([[exp.values[t] for t in exp.targets]])
    predictor.finish(row, values, [latent[0].float().cpu()], predictor.level)
    exp.errors, exp.level, exp.domain = dict(row.errors), row.level, row.domain
    exp.intervals = {t: list(v) for t, v in row.intervals.items()}


def attribute(
    exp: Explanation,
    checkpoint=None,
    target: str | int | None = None,
    on: str = "atoms",
    n_steps: int = 50,
    dtype: torch.dtype = torch.float64,
    tolerance: float | None = None,
    max_steps: int = MAX_IG_STEPS,
    progress: Callable[[float, str], None] | None = None,
) -> Attribution:
    """Integrated Gradients of one target on `on` ('atoms' or 'coords'), in the target's
    units; stored in `exp.attributions['on:target']` and returned. `checkpoint` (default:
    the model `exp` was made with) must be the one `exp` was made with.

    tolerance: if given, the steps double (up to `max_steps`) until the completeness
    error |sum - (f(x) - f(x'))| is within `tolerance` times |f(x) - f(x')|. Atom
    inputs usually converge at 50 steps; coordinates can need a few hundred (the
    expansion path sweeps the oscillating radial bases). `n_steps` is what was used.
    progress(fraction of this pass, what it is): after each forward pass; whatever it
    raises stops the computation (the app's Stop button).
    """
    if checkpoint is None and exp.model is None:
        raise ConfigError("this explanation holds no model: pass the checkpoint it was made with")
    loaded = exp.model if checkpoint is None else _loaded(checkpoint, "cpu")
    k = exp.target_index(target)
    name = exp.targets[k]
    out_k = loaded.targets.index(name)  # the model's output (explanations hide stale ones)
    norm = loaded.normalization
    scale = float(norm.std[out_k]) if norm is not None else 1.0
    offset = float(exp.offset[:, k].sum())  # the normalization offset cancels in f(x) - f(x')
    steps = n_steps
    while True:
        tick = None
        if progress is not None:
            what = f"Integrated Gradients on {on}, {steps} steps"
            tick = lambda done, total, what=what: progress(done / total, what)  # noqa: E731
        values, f_in, f_base = integrated_gradients(
            loaded.model_for(name),
            exp.input,
            out_k,
            on,
            steps,
            scale=scale,
            dtype=dtype,
            progress=tick,
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
