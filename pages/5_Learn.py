"""Learn: PAMNet step by step, on one molecule you choose."""

from __future__ import annotations

import streamlit as st

import ui
from pamnet import registry, specialists, viz
from pamnet.errors import PamnetError
from pamnet.session import input_key
from pamnet.targets import short_name
from ui import cache, inputs
from ui.sidebar import checkpoint_name, show_checkpoint
from ui.viewer import embed, page_html

DEFAULT_SMILES = "CC(=O)Nc1ccc(O)cc1"  # paracetamol: amide, phenol, aromatic ring
QM9_CUTOFFS = (5.0, 5.0)  # Å, the official QM9 model (local graph: bonds)
LOCAL_MODES = {
    "molecule": "chemical bonds (small-molecule mode)",
    "complex": "all pairs within the local cutoff (complex mode)",
}

sess = ui.page("Learn")
st.title("Learn: how PAMNet sees a molecule")
st.markdown(
    "Three short steps on one molecule. Change it any time: type a SMILES "
    "(e.g. `CCO` for ethanol, `c1ccccc1` for benzene)."
)
text = st.text_input("Molecule (SMILES)", value=DEFAULT_SMILES, key="learn.smiles").strip()
if not text:
    st.info("Type a SMILES to start, e.g. CC(=O)Nc1ccc(O)cc1 (paracetamol).")
    st.stop()
try:
    structure = inputs.structure_from_smiles(text)
except PamnetError as exc:
    st.error(ui.md(exc))
    st.stop()
key = input_key("smiles", text)
inp = cache.model_input(key, "molecule", (), structure)
st.caption(f"{ui.md(structure.formula)} · {structure.n_atoms} atoms with hydrogens")


# --- 1. the molecular-mechanics picture ---------------------------------------------------------
st.header("1 · Local and non-local interactions")
left, right = st.columns([1, 1])
with left:
    st.markdown(
        "A classical force field writes a molecule's energy as a sum of simple terms:\n\n"
        "- **local**: bond stretching (two bonded atoms), angle bending (three atoms), "
        "torsions (four atoms in a chain). These need the bonds, and angles matter.\n"
        "- **non-local**: electrostatics and van der Waals between atoms that are not "
        "bonded. These depend on distance only.\n\n"
        "PAMNet mirrors this with two message-passing layers in every block. The **local "
        "layer** works on the bonds (or, for complexes, on very close pairs) and uses bond "
        "lengths **and angles**. The **global layer** connects every pair of atoms within a "
        "cutoff and uses **distances only**. Torsions get no term of their own: they emerge "
        "as messages travel over several blocks."
    )
with right:
    try:
        html, drawn = cache.edge_view_html(
            key, "molecule", (), *QM9_CUTOFFS, True, True, 2000, None, structure, inp,
            (440, 420),
        )  # fmt: skip
        embed(html, drawn["height"], alt="3D view with local and non-local edges")
        st.caption(
            "Solid: local edges (bonds). Dashed: non-local edges, every other pair within "
            f"{QM9_CUTOFFS[1]:g} Å. Drag to rotate."
        )
    except PamnetError as exc:
        st.error(ui.md(exc))

st.dataframe(cache.mm_table(key, "molecule", *QM9_CUTOFFS, inp), hide_index=True)
st.caption(
    "count: terms a force field would have (bonds, bond angles, dihedrals, non-bonded "
    "pairs within 5 Å). PAMNet counts directed edges and angle terms, so each bond and "
    "each bond angle appears several times."
)

# --- 2. cutoffs and cost --------------------------------------------------------------------------
st.header("2 · Why angles only on the local graph")
st.markdown(
    "Angles are expensive: every pair of edges that meet at an atom gives one angle term, "
    "so their number grows with the **square** of the neighbours per atom. Move the cutoffs "
    "and compare PAMNet (angles on the local graph) with a DimeNet-style model that "
    "computes angles on **every** edge of the global graph."
)
mode_col, local_col, global_col = st.columns(3)
task = mode_col.radio(
    "Local graph",
    list(LOCAL_MODES),
    format_func=LOCAL_MODES.get,
    key="learn.local_mode",
)
cutoff_l = local_col.slider(
    "Local cutoff (Å)",
    1.0,
    5.0,
    2.0,
    0.1,
    disabled=task == "molecule",
    key="learn.cutoff_l",
    help="Only used when the local graph is 'all pairs within the local cutoff'.",
)
cutoff_g = global_col.slider("Global cutoff (Å)", 2.0, 12.0, 5.0, 0.5, key="learn.cutoff_g")
cl = QM9_CUTOFFS[0] if task == "molecule" else float(cutoff_l)
cg = float(cutoff_g)
try:
    cost = cache.timing(key, task, cl, cg, inp)
except PamnetError as exc:
    st.error(ui.md(exc))
    st.stop()
pam, dime = cost.iloc[0], cost.iloc[1]
m = st.columns(4)
m[0].metric(
    "Local edges",
    f"{pam['angle_edges'] // 2:,}",
    help=f"Pairs of atoms; messages run both ways: {pam['angle_edges']:,} directed.",
)
m[1].metric(
    "Global edges",
    f"{dime['angle_edges'] // 2:,}",
    help=f"All pairs within the cutoff; {dime['angle_edges']:,} directed messages.",
)
m[2].metric("PAMNet angle terms", f"{pam['angle_terms']:,}")
m[3].metric(
    "DimeNet-style angle terms",
    f"{dime['angle_terms']:,}",
    delta=f"×{dime['angle_terms'] / max(pam['angle_terms'], 1):.0f}",
    delta_color="off",
)
sweep = st.columns(2 if task == "complex" else 1)
sweep[0].plotly_chart(
    viz.cost_vs_cutoff(inp, task, which="global", cutoff_l=cl), key="learn.cost_global"
)
if task == "complex":
    sweep[1].plotly_chart(
        viz.cost_vs_cutoff(inp, task, which="local", cutoff_g=cg), key="learn.cost_local"
    )
shown = cost.assign(pairs=cost["angle_edges"] // 2).rename(
    columns={
        "pairs": "pairs with angles",
        "angle_terms": "angle terms",
        "angle_ms": "angle terms (ms, median)",
        "forward_ms": "one block (ms, median)",
    }
)[["model", "pairs with angles", "angle terms", "angle terms (ms, median)",
   "one block (ms, median)"]]  # fmt: skip
st.dataframe(shown, hide_index=True)
if bool(dime["timed"]) and "ratio" in cost and cost["ratio"].notna().any():
    steady = dime["ratio_high"] - dime["ratio_low"] <= 0.1 * dime["ratio"]
    st.caption(
        f"Measured just now on one CPU thread of this computer with a one-block model of "
        f"width 64, the two models run back to back {int(dime['rounds'])} times: the "
        f"DimeNet-style block took **{dime['ratio']:.1f}×** as long as PAMNet's (half the "
        f"runs between {dime['ratio_low']:.1f}× and {dime['ratio_high']:.1f}×"
        + ("" if steady else "; other work on the machine made the times jumpy")
        + "). The angle terms are part of each block. On a small molecule fixed per-step "
        "overheads hide much of the difference; raise the global cutoff or try a bigger "
        "molecule and watch the angle terms take over. The counts are exact."
    )
else:
    st.caption(
        "The DimeNet-style variant was counted but not timed: it would build too many "
        "angle terms to stay quick here. That is the point."
    )

# --- 3. what a trained model listens to -------------------------------------------------------------
st.header("3 · Local or global? Ask the model")
st.markdown(
    "A prediction is an exact sum over blocks and atoms. Each term came through one of the "
    "two layers of a block: the **local** one (bonds and short contacts, with angles; "
    "orange) or the **global** one (longer range, distances only; purple). Add up each "
    "kind and you see how much of the answer each kind of interaction carried."
)
infos = {i.name: i for i in cache.checkpoints() if i.task == "molecule"}
if not infos:
    st.warning("No small-molecule checkpoint found, so this step is off.")
    st.stop()
default = registry.default_name("mmff")  # the molecules here are built from SMILES
picked = checkpoint_name(sess, "mmff")  # the user's pick (any page), else that default
name = picked if picked in infos else (default if default in infos else next(iter(infos)))
info = infos[name]
show_checkpoint(info.name)
trained = "training" in info.metadata or "test_mae" in info.metadata
if name != default or not trained:
    st.info(
        f"Using the checkpoint **{ui.md(name)}**"
        + (
            ": it carries no training record and may be untrained (like the test model), "
            "so its weights show how the network is wired, not chemistry."
            if not trained
            else "; the shipped QM9 model is not installed."
        )
    )
try:
    exp = cache.explanation(key, str(info.path), cache.mtime_ns(info.path), (), structure)
except PamnetError as exc:
    st.error(ui.md(exc))
    st.stop()
frame = exp.channel_frame()
st.plotly_chart(viz.channel_bars(frame, title="Through which layers each prediction came"),
                key="learn.channels")  # fmt: skip
target = st.selectbox(
    "Colour the atoms for",
    exp.targets,
    format_func=lambda t: f"{t}: {short_name(t)}" if short_name(t) != t else t,
    key="learn.target",
)
k = exp.target_index(target)
via = exp.channels[:, :, :, k].sum(0)  # [atoms, 2]: global, local
view_col, text_col = st.columns([1, 1])
with view_col:
    view = viz.channel_view(structure, via[:, 0], via[:, 1], width=440, height=380)
    embed(page_html(view), view.height, alt=f"3D view coloured by where {target} came from")
with text_col:
    line = frame.set_index("target").loc[target]
    unit = exp.units.get(target, "")
    st.markdown(
        f"**{ui.md(target)}** = {line['value']:.4g} {ui.md(unit)}: "
        f"{line['via local']:+.4g} through the local layers, {line['via global']:+.4g} "
        f"through the global ones, and {line['offset']:.4g} of offset. "
        f"Here **{line['local fraction']:.0%}** of the learned part came through the local "
        "layers. Orange atoms got theirs mostly through local interactions, purple ones "
        "through long-range ones. Compare the targets: which ones are about bonds, which "
        "about the whole molecule?"
    )
    if target in exp.specialists:
        st.caption(ui.md(specialists.note(target)))
    share = exp.attention[:, :, 0].mean()
    st.caption(
        f"The fusion attention behind this: the global layer gets {share:.0%} of the weight "
        "on average (the heat map below; its colours span the values this molecule shows)."
    )
st.plotly_chart(
    viz.attention_heatmap(
        exp.attention, list(exp.rows["label"]), title="Global share per block and atom"
    ),
    key="learn.heatmap",
)
st.page_link(
    "pages/3_Attention.py",
    label="Explore on the Attention page",
    icon=":material/center_focus_strong:",
)
