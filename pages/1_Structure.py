"""Structure: load a molecule, complex or RNA and explore PAMNet's two graphs in 3D."""

from __future__ import annotations

import streamlit as st

import ui
from pamnet.errors import PamnetError
from pamnet.featurize import binding_site
from pamnet.io import Record
from pamnet.session import input_key
from pamnet.tasks import TASK_NAMES
from ui import cache, inputs
from ui.focus import LARGE, SITE_MARGIN
from ui.viewer import embed

sess = ui.page("Structure")
st.title("Structure")
st.caption(
    "Load a structure and see the two graphs PAMNet builds from it: **local** edges "
    "(bonds and short contacts, used with bond angles) drawn solid, **non-local** edges "
    "(longer range, distances only) drawn dashed."
)


def load(kind: str, data: bytes | str, name: str, label: str, read) -> None:
    """Make what `read()` returns (structures, or `Record`s of which the readable ones
    count) current, or show why it cannot be (keeping the old one)."""
    key = input_key(kind, data, name)
    if key in sess.rejected:
        st.error(ui.md(sess.rejected[key]))
        return
    try:
        with st.spinner(f"Reading {ui.md(label)}…"):
            structures = read()
    except PamnetError as exc:
        sess.reject(key, str(exc))
        st.error(ui.md(exc))
        return
    try:
        if structures and isinstance(structures[0], Record):
            sess.load_records(structures, key, label)
        else:
            sess.load(structures, key, label)
    except PamnetError as exc:
        sess.reject(key, str(exc))
        st.error(ui.md(exc))
        return
    st.rerun()  # so the sidebar shows the new structure


smiles_tab, upload_tab, example_tab = st.tabs(["SMILES", "Upload a file", "Example"])
with smiles_tab, st.form("smiles_form", border=False):
    smiles = st.text_input(
        "SMILES", placeholder="CC(=O)Oc1ccccc1C(=O)O (aspirin)", key="structure.smiles"
    )
    if st.form_submit_button("Build 3D structure") and smiles.strip():
        text = smiles.strip()
        load("smiles", text, "", f"SMILES {text}", lambda: [inputs.structure_from_smiles(text)])
with upload_tab:
    upload = st.file_uploader(
        f"Structure file ({', '.join(inputs.UPLOAD_TYPES)})",
        type=inputs.UPLOAD_TYPES,
        help="Multi-record SDF and multi-frame XYZ files: pick the record below. "
        f"Up to {inputs.LIMITS.max_bytes / 1e6:.0f} MB and {inputs.LIMITS.max_atoms:,} atoms.",
    )
    # Read an upload once, when it arrives (the uploader keeps it across reruns).
    if upload is not None and st.session_state.get("structure.upload") != upload.file_id:
        st.session_state["structure.upload"] = upload.file_id
        data = upload.getvalue()
        load(
            "upload",
            data,
            upload.name,
            upload.name,
            lambda: inputs.read_records(data, upload.name),
        )
with example_tab:
    choices = {e.name: e for e in inputs.examples()}
    picked = st.selectbox(
        "Bundled example",
        list(choices),
        format_func=lambda n: f"{n}: {choices[n].description}",
        key="structure.example",
    )
    if st.button("Load example") and picked:
        load("example", picked, picked, f"example {picked}", lambda: inputs.example(picked))

s = sess.structure
if s is None:
    st.info("Paste a SMILES, upload a structure file or load an example to start.")
    st.stop()
if sess.skipped:
    st.warning(
        f"{len(sess.skipped):,} record(s) of {ui.md(sess.label)} could not be read and are "
        "left out:\n"
        + "\n".join(f"- {ui.md(line)}" for line in sess.skipped[:20])
        + (f"\n- … and {len(sess.skipped) - 20:,} more" if len(sess.skipped) > 20 else "")
    )

# --- what to show -----------------------------------------------------------------
scope = f"{sess.structure_key}:{sess.task}"  # widgets reset with the structure and task
if len(sess.structures) > 1:
    index = st.selectbox(
        f"Record ({len(sess.structures)} in {ui.md(sess.label)})",
        range(len(sess.structures)),
        index=sess.index,
        format_func=lambda i: f"{i + 1}: {sess.structures[i].name} ({sess.structures[i].formula})",
        key=f"structure.record:{sess.key}",
    )
    if index != sess.index:
        sess.select(index)
        st.rerun()

task_col, local_col, global_col, draw_col = st.columns(4)
task = task_col.selectbox(
    "Task (how the graphs are built)",
    TASK_NAMES,
    index=TASK_NAMES.index(sess.task),
    key=f"structure.task:{sess.structure_key}",
    help="molecule: local = bonds (QM9 mode); complex: protein pocket + ligand "
    "(PDBbind mode); rna: C, N, O atoms of nucleotides (RNA-Puzzles mode).",
)
if task != sess.task:
    sess.set_task(task)
    st.rerun()
sess.cutoff_l = local_col.slider(
    "Local cutoff (Å)",
    0.5,
    6.0,
    float(sess.cutoff_l),
    0.1,
    disabled=sess.task == "molecule",
    key=f"structure.cutoff_l:{scope}",
    help="In molecule mode the local graph is the chemical bonds, so this is unused.",
)
sess.cutoff_g = global_col.slider(
    "Non-local (global) cutoff (Å)",
    1.0,
    30.0,
    float(sess.cutoff_g),
    0.5,
    key=f"structure.cutoff_g:{scope}",
)
max_edges = draw_col.select_slider(
    "Most non-local edges drawn",
    [250, 500, 1000, 2000, 5000, 10000],
    value=2000,
    key="structure.max_edges",
    help="Drawing is capped so large structures stay responsive; the counts are complete.",
)
focus = None
if sess.task == "complex":
    ligand_col, pocket_col, focus_col = st.columns([1, 1, 2])
    ligands = sorted({r for r, role in zip(s.residue_names or [], s.roles) if role == "ligand"})
    options = ["auto", *ligands]
    current = sess.ligand_resname if sess.ligand_resname in ligands else "auto"
    choice = ligand_col.selectbox(
        "Ligand residue",
        options,
        index=options.index(current),
        key=f"structure.ligand:{scope}",
        help="auto: the largest HETATM residue that is not water, an ion or an additive.",
    )
    sess.ligand_resname = None if choice == "auto" else choice
    sess.pocket_cutoff = pocket_col.slider(
        "Pocket cutoff (Å)",
        3.0,
        12.0,
        float(sess.pocket_cutoff),
        0.5,
        key=f"structure.pocket:{scope}",
    )
    focus = focus_col.radio(
        "Focus",
        ["model", "ligand", "all"],
        format_func={"model": "pocket + ligand", "ligand": "ligand", "all": "everything"}.get,
        horizontal=True,
        key=f"structure.focus:{scope}",
    )
    focus = None if focus == "model" else focus
local_toggle, global_toggle = st.columns(2)
show_local = local_toggle.toggle("Local edges (solid)", value=True, key="structure.show_local")
show_global = global_toggle.toggle(
    "Non-local edges (dashed)", value=True, key="structure.show_global"
)

# --- graphs, counts and the view --------------------------------------------------
kw = tuple(sorted(sess.featurize_kw().items()))
key, cl, cg = sess.structure_key, float(sess.cutoff_l), float(sess.cutoff_g)
try:
    with st.spinner("Building the graphs…"):
        inp = cache.model_input(key, sess.task, kw, s)
        counts = cache.edge_counts(key, sess.task, kw, cl, cg, inp)
        # Big complexes: draw the binding site only (same graphs, far less for the browser).
        shown, shown_key, shown_inp = s, key, inp
        if sess.task == "complex" and focus != "all" and s.n_atoms > LARGE:
            radius = sess.pocket_cutoff + SITE_MARGIN
            shown, shown_key = binding_site(s, sess.ligand_resname, radius), f"{key}|site"
            shown_inp = cache.model_input(shown_key, sess.task, kw, shown)
        html, drawn = cache.edge_view_html(
            shown_key, sess.task, kw, cl, cg, show_local, show_global, int(max_edges), focus,
            shown, shown_inp,
        )  # fmt: skip
except PamnetError as exc:
    st.error(ui.md(exc))
    st.stop()

cols = st.columns(6)


def directed(kind: str) -> str:
    return (
        f"Pairs of atoms, as the 3D view and its legend count them; messages run both ways, "
        f"so the model passes {counts[f'n_{kind}_directed']:,} directed messages."
    )


cols[0].metric("Atoms (model)", f"{counts['n_atoms']:,}", help=f"{s.n_atoms:,} in the file")
cols[1].metric("Local edges", f"{counts['n_local']:,}", help=directed("local"))
cols[2].metric(
    "Non-local edges",
    f"{counts['n_nonlocal']:,}",
    help=directed("nonlocal") + " Global edges that are not local ones (dashed in the view).",
)
cols[3].metric(
    "Global edges", f"{counts['n_global']:,}", help=directed("global") + " Includes local pairs."
)
cols[4].metric("Two-hop angles", f"{counts['n_two_hop']:,}", help="Angle terms k→j→i (local)")
cols[5].metric("One-hop angles", f"{counts['n_one_hop']:,}", help="Angle terms j←i→k (local)")
if drawn["capped"]:
    st.info(
        f"Drawing {drawn['n_global_drawn']:,} of {drawn['n_global_total']:,} non-local pairs "
        f"({drawn['cap_rule']} first) so the view stays responsive; the counts above are complete."
    )
if shown is not s:
    st.info(
        f"Showing the binding site: the {shown.n_atoms:,} atoms of residues within "
        f"{radius:g} Å of the ligand, of {s.n_atoms:,}. Choose Focus: everything to draw "
        "them all (slower)."
    )

view_col, table_col = st.columns([2, 1])
with view_col:
    embed(html, drawn["height"], alt=f"3D view of {s.formula} with local and non-local edges")
with table_col:
    st.dataframe(s.atom_table(coords=False), hide_index=True, height=drawn["height"] + 60)
for warning in s.warnings:
    st.caption(f"Note: {ui.md(warning)}")
