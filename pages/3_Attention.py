"""Attention: which graph each atom listens to, and what each atom adds to the prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import ui
from pamnet import specialists, viz
from pamnet.errors import PamnetError
from pamnet.explain.core import IG_TOLERANCE, MAX_IG_STEPS
from pamnet.predict import split_error, with_error
from pamnet.session import input_key
from pamnet.text import csv_safe
from ui import cache, inputs, work
from ui.sidebar import checkpoint_name, show_checkpoint
from ui.viewer import embed, page_html

DEVICE = "auto"
VIEW_SIZE = {"width": 520, "height": 420}  # px, fits the wide layout's left column
MAX_METRICS = 4  # more targets than this (QM9 has 12): one table row instead of metrics
EXAMPLE_SMILES = "CC(=O)Nc1ccc(O)cc1"  # explained until the user types a SMILES
EXAMPLE = f"paracetamol, {EXAMPLE_SMILES}"
TRAINED_ON = {"molecule": "small molecules", "complex": "protein-ligand complexes", "rna": "RNA"}

sess = ui.page("Attention")
st.title("Attention")
st.caption(
    "In every block PAMNet computes two updates per atom: a **global** one (distances to "
    "all atoms within the global cutoff) and a **local** one (bonds and bond angles). A "
    "learned attention weighs them, and the two weights add up to 1. Below: those weights, "
    "and each atom's **contribution** to the prediction; the contributions add up exactly "
    "to the predicted value."
)


# --- what to explain ----------------------------------------------------------------------
modes = ["Current structure", "One SMILES"]
mode = st.radio(
    "Input",
    modes,
    index=0 if sess.structure is not None else 1,
    horizontal=True,
    key="attention.mode",
)
if mode == "Current structure":
    structure = sess.structure
    if structure is None:
        st.info("No structure loaded yet: load one on the Structure page, or type a SMILES here.")
        st.page_link("pages/1_Structure.py", label="Load a structure", icon=":material/biotech:")
        st.stop()
    task, key = sess.task, sess.structure_key
    kw = tuple(sorted(sess.featurize_kw().items()))
else:
    text = st.text_input("SMILES", placeholder=EXAMPLE_SMILES, key="attention.smiles").strip()
    if not text:  # a worked example while the user types (and the charts' code loads)
        st.info(f"An example below: {EXAMPLE}. Type a SMILES above and press Enter.")
        text = EXAMPLE_SMILES
    try:
        structure = inputs.structure_from_smiles(text)
    except PamnetError as exc:
        st.error(ui.md(exc))
        st.stop()
    task, key, kw = "molecule", input_key("smiles", text), ()

# --- which checkpoint -------------------------------------------------------------------------
all_infos = cache.checkpoints()
infos = {i.name: i for i in all_infos if i.task == task}
if not infos:
    if all_infos:
        st.info(
            f"This structure is set up as **{task}**, and explaining it needs a {task} "
            f"checkpoint: a model trained on {TRAINED_ON[task]}. "
            f"The checkpoints here are for {', '.join(sorted({i.task for i in all_infos}))}. "
            "Fine-tune one on your data (Fine-tune page or `pamnet finetune`), then come back."
            + (
                " The official RNA-Puzzles checkpoint works too: `pamnet convert-official "
                "pamnet_rna.pt --config cfg.json -o ~/.pamnet/checkpoints/rna.pt` (see the README)."
                if task == "rna"
                else ""
            )
        )
    else:
        st.warning("No checkpoint found: put a `.pt` checkpoint in `checkpoints/`, then reload.")
    st.stop()
names = list(infos)
preferred = checkpoint_name(sess, structure.geometry)
chosen = st.selectbox(
    "Checkpoint",
    names,
    index=names.index(preferred) if preferred in names else 0,
    key=f"attention.checkpoint:{task}",
    format_func=lambda n: f"{n} ({', '.join(infos[n].targets)})",
)
info = infos[chosen]
show_checkpoint(info.name)
mtime = cache.mtime_ns(info.path)
try:
    exp = work.explanation((key, str(info.path), mtime, kw), structure, DEVICE, "attention")
except PamnetError as exc:
    st.error(ui.md(exc))
    st.stop()
if "training" not in info.metadata and "test_mae" not in info.metadata:
    st.caption(
        f"{ui.md(info.name)} carries no training record: if it is untrained (like a test "
        "model), its attention shows how the network is wired, not chemistry."
    )

# --- prediction -------------------------------------------------------------------------------
cols = [exp.column(k) for k in range(len(exp.targets))]
if len(exp.targets) <= MAX_METRICS:
    for box, t, col in zip(st.columns(len(cols)), exp.targets, cols, strict=True):
        value, pm = split_error(exp.values[t], exp.errors.get(t))
        box.metric(
            ui.md(col),
            value,
            delta=None if pm is None else f"± {pm}",
            delta_color="off",
            delta_arrow="off",
        )
else:
    shown = {c: with_error(exp.values[t], exp.errors.get(t)) for t, c in zip(exp.targets, cols)}
    st.dataframe(pd.DataFrame([shown]), hide_index=True)
if exp.errors:
    st.caption(f"± : {round(100 * exp.level)}% prediction intervals (the model card says how).")
if exp.domain is not None and exp.domain.reasons:
    st.caption(f"Domain: {ui.md(exp.domain.summary())}.")
for w in exp.warnings:
    st.warning(ui.md(w))

# --- where the prediction comes from ------------------------------------------------------------
st.subheader("Where each prediction comes from")
st.plotly_chart(viz.channel_bars(exp.channel_frame(), title=""), key="attention.channels")
st.caption(
    "Each value is an exact sum: what came through the **local** layers (bonds and short "
    "contacts, with angles; orange), what came through the **global** layers (longer "
    "range, distances only; purple), and a fixed offset (the training mean and per-element "
    "reference values). The bars show the two learned parts as shares; hover for the "
    "numbers in each target's unit."
)

# --- choices ------------------------------------------------------------------------------------
scope = f"{key}:{chosen}"
c1, c2, c3, c4 = st.columns(4)
target = c1.selectbox("Target", exp.targets, key=f"attention.target:{scope}")
k = exp.target_index(target)
if target in exp.specialists:
    st.caption(ui.md(specialists.note(target)))
learned = False
if exp.has_offset:
    learned = c2.toggle(
        "Learned part only",
        value=True,
        key="attention.learned",
        help="Contributions include each atom's share of the normalization offset (the "
        "mean and per-element reference values, e.g. isolated-atom energies). Switch this on "
        "to see only what the network added on top.",
    )
color_by = c3.radio(
    "Colour atoms by",
    ["local vs global part", "attention", "contribution"],
    key="attention.color",
    horizontal=True,
    help="local vs global part: how much of the atom's learned contribution to the target "
    "came through the local layers (orange) or the global ones (purple). attention: the "
    "fusion weights themselves. contribution: the atom's signed share (red +, blue -).",
)
blocks = ["mean over blocks"] + [f"block {i + 1}" for i in range(exp.n_layers)]
block = c4.selectbox("Block (3D view)", blocks, key=f"attention.block:{scope}")
layer = None if block == blocks[0] else blocks.index(block) - 1

IG_DEFAULT_STEPS = 50
ig_base = f"{scope}|{target}|{st.session_state.get('attention.ig_steps', IG_DEFAULT_STEPS)}"


def _stop_ig() -> None:
    st.session_state.pop("attention.ig_request", None)


def _request_ig(tolerance: float | None) -> None:
    """IG of the chosen target: the slider's steps (None), or doubled to `tolerance`; bound
    below to the run it starts (a click on a button left from the last molecule is for this)."""
    st.session_state["attention.ig_request"] = (None, tolerance)


# Requests are (ig_base, tolerance); a finished one's result, (ig_base, tolerance, explanation),
# is kept in the session and the whole page shows it. New ones run by the IG button, then rerun.
ig_request = st.session_state.get("attention.ig_request")
if ig_request is not None and ig_request[0] is None:
    ig_request = st.session_state["attention.ig_request"] = (ig_base, ig_request[1])
done = st.session_state.get("attention.ig_result")
if done is not None and done[0] != ig_base:
    done = None  # another structure, checkpoint, target or step count
if done is not None:
    exp = done[2]
refined = done is not None and done[1] is not None
ig_pending = (
    ig_request is not None and ig_request[0] == ig_base and (done is None or done[:2] != ig_request)
)


unit = exp.units.get(target, "")
atoms = exp.to_frame()
col = exp.column(k)
per_atom = exp.per_atom(k, learned=learned)
per_row = exp.contributions.sum(0)[:, k] - (exp.offset[:, k] if learned else 0.0)
what = "learned contribution" if learned else "contribution"

# --- 3D view and one atom -------------------------------------------------------------------------
rows = viz.row_index(exp.input, structure.n_atoms)
focus = "pocket" if task == "complex" else None
view_col, atom_col = st.columns([3, 2])
with atom_col:
    st.subheader("One atom")
    options = list(range(len(atoms)))
    picked = st.selectbox(
        "Atom",
        options,
        format_func=lambda i: (
            f"{atoms['label'].iloc[i]} ({atoms['side'].iloc[i]})"
            if task == "complex"
            else atoms["label"].iloc[i]
        ),
        key=f"attention.atom:{scope}",
    )
    atom = atoms.iloc[picked]
    m1, m2 = st.columns(2)
    m1.metric("Global share (mean)", f"{atom['global share']:.3f}")
    m2.metric(ui.md(f"{what} [{unit}]" if unit else what), f"{per_atom[picked]:.4g}")
    table = exp.atom_layers(int(atom["atom"]), atom["side"], learned=learned)
    shares = [c for c in table.columns if "share" in c]
    st.dataframe(table[["block", *shares, col]], hide_index=True)
    st.caption(
        "Per block: the attention weights (global + local = 1) and the atom's contribution "
        "through that block."
        + (" Complexes hold each atom twice (complex and own copy)." if task == "complex" else "")
    )
with view_col:
    try:
        if color_by == "attention":
            view = viz.attention_view(
                structure, exp.attention, atom_index=rows, layer=layer, focus=focus, **VIEW_SIZE
            )
        elif color_by == "local vs global part":
            via = (
                exp.channels[:, :, :, k]
                if layer is None
                else exp.channels[layer : layer + 1, :, :, k]
            )
            via = via.sum(0)  # [rows, 2]
            view = viz.channel_view(
                structure, via[:, 0], via[:, 1], atom_index=rows, focus=focus, **VIEW_SIZE
            )
        else:
            view = viz.contribution_view(
                structure, per_row, atom_index=rows, unit=unit, focus=focus, **VIEW_SIZE
            )
        same = (exp.rows["atom"] == atom["atom"]) & (exp.rows["side"] == atom["side"])
        xyz = structure.coords[int(rows[np.nonzero(same.to_numpy())[0][0]])]
        view.view.addLabel(
            f"{atom['element']}{int(atom['atom']) + 1}",
            {"position": dict(zip("xyz", map(float, xyz), strict=True)), "fontSize": 12},
        )
        embed(page_html(view), view.height, alt=f"3D view coloured by {color_by}")
    except PamnetError as exc:
        st.error(ui.md(exc))

# --- heat map and bars ---------------------------------------------------------------------------
labels = list(exp.rows["label"])
if task == "complex":
    labels = [f"{lab} [{part}]" for lab, part in zip(labels, exp.rows["part"], strict=True)]
st.plotly_chart(
    viz.attention_heatmap(exp.attention, labels, title="Global share of the fusion attention"),
    key="attention.heatmap",
)
st.plotly_chart(
    viz.contribution_bars(
        per_atom, list(atoms["label"]), unit=unit, title=f"{what.capitalize()} to {target}"
    ),
    key="attention.bars",
)
total = float(per_atom.sum())
st.caption(
    f"The bars add up to {total:.6g} {ui.md(unit)}"
    + (
        f"; with the offset ({exp.offset[:, k].sum():.6g}) that is the prediction, "
        f"{exp.values[target]:.6g}."
        if learned
        else ", the prediction."
    )
)

# --- summaries ---------------------------------------------------------------------------------
tabs = {"By element": exp.by_element(), "Per block": exp.layer_frame()}
groups = exp.by_group()
if not groups.empty:
    tabs["By functional group"] = groups
residues = exp.by_residue()
if not residues.empty:
    tabs["By nucleotide" if task == "rna" else "By residue"] = residues
if task == "complex":
    tabs["Ligand vs pocket"] = exp.by_side()
tabs["All atoms"] = atoms
for tab, (name, df) in zip(st.tabs(list(tabs)), tabs.items(), strict=True):
    with tab:
        st.dataframe(df, hide_index=True)
        if name == "By functional group":
            st.caption(
                "A group's atoms are those its SMARTS pattern matches plus their hydrogens. "
                "An atom counts once per group but can be in several groups, so the rows do "
                "not add up to the total; '(no group)' holds the rest."
            )
        if name == "Ligand vs pocket":
            st.caption(
                "Each atom appears twice in the model: in the complex (+) and alone in the "
                "pocket or ligand (−). Its total is the sum of both terms."
            )

# --- Integrated Gradients --------------------------------------------------------------------------
ig_open = bool(exp.attributions) or ig_pending
with st.expander("Integrated Gradients", expanded=ig_open):
    st.markdown(
        "A second, model-agnostic view: how much each atom's **identity** (its input features "
        "vs an all-zero embedding) and its **position** (vs the structure pulled apart beyond "
        "the cutoffs, where no distance or angle reaches the model) change the prediction. "
        "The per-atom numbers add up to f(input) − f(baseline)."
    )
    st.slider(
        "Steps",
        10,
        200,
        IG_DEFAULT_STEPS,
        10,
        key="attention.ig_steps",
        help="Gauss-Legendre steps along the path from the baseline. Each chart says how "
        "closely its numbers add up; where they miss by over 1%, a button refines them.",
    )
    st.button(
        "Compute Integrated Gradients",
        key="attention.ig_button",
        on_click=_request_ig,
        args=(None,),
    )
    if ig_pending:
        try:
            result = work.with_progress(
                "Integrated Gradients…", "attention.ig_stop", _stop_ig,
                lambda progress: cache.with_gradients(
                    exp, str(info.path), mtime, target, int(ig_base.rsplit("|", 1)[1]), DEVICE,
                    tolerance=ig_request[1], progress=progress,
                ),
            )  # fmt: skip
        except PamnetError as exc:
            st.session_state.pop("attention.ig_request", None)
            st.error(ui.md(exc))
        else:
            st.session_state["attention.ig_result"] = (*ig_request, result)
            st.rerun()  # the whole page again, now with the attributions
    if exp.attributions:
        for on, title in (("atoms", "atom identity"), ("coords", "atom position")):
            a = exp.attributions[f"{on}:{target}"]
            values = atoms[f"IG {on} {col}"]
            st.plotly_chart(
                viz.contribution_bars(
                    values, list(atoms["label"]), unit=unit, title=f"IG, {title}: {target}"
                ),
                key=f"attention.ig.{on}",
            )
            msg = (
                f"Baseline: {a.baseline}. Sum {a.per_row.sum():.5g} vs f(input) − f(baseline) "
                f"= {a.f_input - a.f_baseline:.5g} (error {a.relative_error:.1%}, "
                f"{a.n_steps} steps)."
            )
            off = a.relative_error > IG_TOLERANCE
            if off and refined:
                msg += (
                    f" Still over {IG_TOLERANCE:.0%} after doubling (limit {MAX_IG_STEPS} steps)."
                )
            (st.warning if off else st.caption)(msg)
        off = any(a.relative_error > IG_TOLERANCE for a in exp.attributions.values())
        if off and not refined and not ig_pending:
            st.button(
                f"Refine: double the steps until they add up within {IG_TOLERANCE:.0%}",
                key="attention.ig_refine",
                on_click=_request_ig,
                args=(IG_TOLERANCE,),
                help=f"Up to {MAX_IG_STEPS} steps: coordinates often need a few hundred, which "
                "takes several times as long; progress and Stop show here.",
            )

st.download_button(
    "Download the atom table (CSV)",
    csv_safe(atoms).to_csv(index=False),
    file_name=f"attention_{target}.csv",
    mime="text/csv",
    on_click="ignore",
)
