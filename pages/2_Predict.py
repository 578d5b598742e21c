"""Predict: properties of the current structure, a SMILES, or a batch (CSV of SMILES, SDF)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

import ui
from pamnet.errors import PamnetError
from pamnet.predict import column as result_column
from pamnet.predict import split_error
from pamnet.registry import input_geometry
from pamnet.session import input_key
from pamnet.targets import meaning
from pamnet.text import csv_safe
from pamnet.uncertainty import DEFAULT_CONFORMERS, DEFAULT_LEVEL
from ui import cache, inputs
from ui.sidebar import checkpoint_name, show_checkpoint

CHUNK = 32  # rows per model call: the page updates its progress bar between chunks
METRICS_PER_ROW = 4  # wide enough for a total energy in eV (-11234.6) in every column

sess = ui.page("Predict")
st.title("Predict")

infos = {i.name: i for i in cache.checkpoints()}
if not infos:
    st.warning(
        "No checkpoint found, so predictions are off. Put a `.pt` checkpoint in `checkpoints/` "
        "(or fine-tune one), then reload. The Structure page works without one."
    )
    st.page_link("pages/1_Structure.py", label="Explore structures", icon=":material/biotech:")
    st.stop()


# --- what to predict, and with which checkpoint ------------------------------------------
modes = ["Current structure", "One SMILES", "Batch: CSV of SMILES", "Batch: structure file"]
mode = st.radio(
    "Input",
    modes,
    index=0 if sess.structure is not None else 1,
    horizontal=True,
    key="predict.mode",
)


def _checkpoint_changed() -> None:
    sess.checkpoint = st.session_state["predict.checkpoint"]  # the user's pick outlives pages


# Until the user picks one, the default follows the input: SMILES, and files drawn in 2D,
# are built with MMFF.
geometry = "mmff" if mode in modes[1:3] else None
pending = st.session_state.get("predict.file") if mode == modes[3] else None
if pending is not None:
    try:
        built = [r.structure for r in inputs.read_records(pending.getvalue(), pending.name) if r.ok]
        geometry = input_geometry(built)
    except PamnetError:
        pass  # the uploader's section below says what is wrong
st.session_state["predict.checkpoint"] = checkpoint_name(sess, geometry)
names = list(infos)
st.selectbox(
    "Checkpoint",
    names,
    key="predict.checkpoint",
    on_change=_checkpoint_changed,
    format_func=lambda n: f"{n} ({infos[n].task}; {', '.join(infos[n].targets)})",
)
info = infos[st.session_state["predict.checkpoint"]]
show_checkpoint(info.name)  # the sidebar names the model this page predicts with
with st.expander("Model card"):
    st.markdown(info.card or "This checkpoint has no model card.")
    targets = ", ".join(f"{t} [{info.units.get(t, '')}]" for t in info.targets)
    st.caption(ui.md(f"{info.origin} · task {info.task} · targets {targets}"))
    if info.specialists:
        st.caption(
            ui.md(f"Answered by specialists (trained for those targets alone): "
                  f"{', '.join(info.specialists)}; the card's Specialists section says how.")
        )  # fmt: skip
device = "auto"
where = f"on {cache.device_label(device)}"
if info.geometry == "any":
    st.caption(f"Runs {where}.")
else:
    st.caption(f"Trained on {ui.md(info.geometry.upper())} geometries; runs {where}.")

calibrated = info.calibrated
left, right = st.columns(2)
level = (
    left.slider(
        "Interval level",
        0.5,
        0.99,
        DEFAULT_LEVEL,
        0.01,
        format="%.2f",
        key="predict.level",
        help="Each value comes with an interval that holds the true value this often for "
        "molecules like the held-out ones the checkpoint was calibrated on (see the model "
        "card). Higher levels give wider intervals.",
    )
    if calibrated
    else DEFAULT_LEVEL
)
if not calibrated:
    why = (info.metadata.get("intervals") or {}).get("note")
    left.caption(
        "This checkpoint has no calibrated intervals"
        + (f": {ui.md(why)}." if why else " (it predates them); values come without ±.")
    )
conformers = 1
if mode in modes[1:3] and info.task == "molecule":
    conformers = right.number_input(
        "Conformers per SMILES",
        1,
        10,
        DEFAULT_CONFORMERS,
        key="predict.conformers",
        help="A SMILES has no single 3D shape: it is predicted over up to this many distinct "
        "MMFF conformers; the values are their mean, and their spread widens the interval. "
        "1 is fastest.",
    )

items: list = []
names_col: tuple[str, ...] | None = None
if mode == "Current structure":
    s = sess.structure
    if s is None:
        st.info("No structure loaded yet: load one on the Structure page, or type a SMILES here.")
        st.page_link("pages/1_Structure.py", label="Load a structure", icon=":material/biotech:")
        st.stop()
    st.caption(f"{ui.md(s.name)} · {ui.md(s.formula)} · {s.n_atoms:,} atoms · task {sess.task}")
    if sess.task != info.task:
        st.warning(
            f"This checkpoint predicts for **{info.task}** inputs; the current structure is "
            f"set up as **{sess.task}**. Pick a {sess.task} checkpoint or expect an error row."
        )
    items, base = [s], sess.structure_key
elif mode == "One SMILES":
    text = st.text_input("SMILES", placeholder="CCO", key="predict.smiles").strip()
    if not text:
        st.info("Type a SMILES, e.g. CCO (ethanol), then press Predict.")
        st.stop()
    items, base = [text], input_key("smiles", text)
elif mode == "Batch: CSV of SMILES":
    upload = st.file_uploader("CSV with a header row and a SMILES column", type=["csv", "tsv"])
    if upload is None:
        st.info("Upload a CSV: one molecule per row, a column of SMILES, any other columns.")
        st.stop()
    data = upload.getvalue()
    try:
        table = inputs.read_table(data, upload.name)
    except PamnetError as exc:
        st.error(ui.md(exc))
        st.stop()
    columns = [str(c) for c in table.columns]
    left, right = st.columns(2)
    column = left.selectbox(
        "SMILES column",
        columns,
        index=inputs.smiles_column_index(columns),
        key=f"predict.smiles_col:{upload.file_id}",
    )
    name_column = right.selectbox(
        "Name column (optional)", ["(none)", *columns], key=f"predict.name_col:{upload.file_id}"
    )
    try:
        items = inputs.smiles_column(table, column)
    except PamnetError as exc:
        st.error(ui.md(exc))
        st.stop()
    if name_column != "(none)":
        names_col = tuple(table[name_column].astype(str))
    base = input_key("csv", data, f"{column}|{name_column}")
    st.caption(f"{len(items):,} rows from {ui.md(upload.name)}")
else:
    upload = st.file_uploader(
        "SDF, MOL2 or SMILES file with one or more records",
        type=["sdf", "sd", "mol", "mol2", "smi"],
        help="2D records (as ChEMBL, PubChem and drawing tools write them) get 3D "
        "coordinates from their connection table (RDKit ETKDG + MMFF94).",
        key="predict.file",
    )
    if upload is None:
        st.info("Upload a file; each record is predicted, failures are reported per row.")
        st.stop()
    data = upload.getvalue()
    try:
        items = inputs.read_records(data, upload.name)
    except PamnetError as exc:
        st.error(ui.md(exc))
        st.stop()
    if len(items) > inputs.MAX_BATCH_ROWS:
        st.error(
            f"{len(items):,} records is more than the {inputs.MAX_BATCH_ROWS:,} the app predicts "
            "at once; run `pamnet predict file.sdf -o predictions.csv` on the command line."
        )
        st.stop()
    base = input_key("sdf", data, upload.name)
    st.caption(f"{len(items):,} records in {ui.md(upload.name)}")


def meaning_of(column: str) -> str | None:
    """The plain-language meaning of a result column such as 'u0 [eV]' (None if unknown)."""
    return meaning(column.split(" [", 1)[0]) or None


# --- predict ----------------------------------------------------------------------------
kw = tuple(sorted(sess.featurize_kw().items())) if mode == "Current structure" else ()
mtime = cache.mtime_ns(info.path)
request = f"{base}|{info.path}|{mtime}|{kw}|{level}|{conformers}"
if st.button("Predict", type="primary"):
    st.session_state["predict.request"] = request
if st.session_state.get("predict.request") != request:
    st.stop()  # results stay on screen until the input or the checkpoint changes

start = time.perf_counter()
bar = st.progress(0.0, text="Predicting…") if len(items) > CHUNK else None
frames, sdfs, warnings = [], [], []
try:
    for lo in range(0, len(items), CHUNK):
        chunk = items[lo : lo + CHUNK]
        frame, sdf, notes = cache.predict_chunk(
            f"{base}|{lo}",
            str(info.path),
            mtime,
            device,
            kw,
            names_col[lo : lo + CHUNK] if names_col else None,
            chunk,
            level,
            conformers,
        )
        frames.append(frame)
        sdfs.append(sdf)
        warnings += notes
        if bar is not None:
            done = lo + len(chunk)
            bar.progress(done / len(items), text=f"Predicted {done:,} of {len(items):,}")
except PamnetError as exc:  # e.g. a checkpoint that cannot be loaded
    st.error(ui.md(exc))
    st.stop()
seconds = time.perf_counter() - start
if bar is not None:
    bar.empty()
results = pd.concat(frames, ignore_index=True)
failed = int((results["error"] != "").sum())
extra = ("name", "n_atoms", "warnings", "error", "domain", "level", "conformers")
value_cols = [c for c in results.columns if c not in extra and " ± " not in c]
if failed:  # the reason beside each failed row, not off-screen after 12 value columns
    front = ["name", "error", "domain", "n_atoms"]
    results = results[[*front, *[c for c in results.columns if c not in (*front, "warnings")],
                       "warnings"]]  # fmt: skip
elif "domain" in results:
    results = results[
        ["name", "domain", *[c for c in results.columns if c not in ("name", "domain")]]
    ]
DOMAIN_SAYS = {  # level: (how, what it means)
    "in-domain": (st.success, "In the training domain."),
    "near": (st.warning, "Near the edge of the training domain"),
    "outside": (st.error, "Outside the training domain"),
}
OUTSIDE_MEANS = (
    " The interval assumes a molecule like the training data: treat these numbers as rough."
)


def error_col(value_col: str) -> str:
    target, _, unit = value_col.partition(" [")
    return result_column(target, unit.rstrip("]"), error=True)


st.subheader("Results")
if len(results) == 1:
    row = results.iloc[0]
    if row["error"]:
        st.error(ui.md(row["error"]))
    else:
        extras = [f"{row['n_atoms']:,} atoms"]
        if "conformers" in results and row["conformers"] and row["conformers"] > 1:
            extras.append(f"mean of {int(row['conformers'])} conformers")
        if "level" in results:
            extras.append(f"± : {round(100 * row['level'])}% interval")
        st.caption(f"{ui.md(row['name'])} · " + " · ".join(extras))
        level_name, _, reasons = str(row.get("domain", "")).partition(": ")
        if level_name in DOMAIN_SAYS:
            show, text = DOMAIN_SAYS[level_name]
            text = text if not reasons else f"{text}: {ui.md(reasons)}."
            show(text + (OUTSIDE_MEANS if level_name == "outside" else ""))
        for lo in range(0, len(value_cols), METRICS_PER_ROW):  # 12 QM9 targets: 3 rows
            shown = value_cols[lo : lo + METRICS_PER_ROW]
            for col, target in zip(st.columns(METRICS_PER_ROW), shown):
                err = row.get(error_col(target))
                value, pm = split_error(row[target], None if err is None or pd.isna(err) else err)
                col.metric(
                    ui.md(target),
                    value,
                    delta=None if pm is None else f"± {pm}",
                    delta_color="off",
                    delta_arrow="off",
                    help=meaning_of(target),
                )
        if warnings[0]:
            st.warning("\n".join(f"- {ui.md(w)}" for w in warnings[0]))
else:
    help_of = {c: meaning_of(c) for c in value_cols}
    config = {c: st.column_config.NumberColumn(help=h) for c, h in help_of.items() if h}
    for c in value_cols:
        if error_col(c) in results:
            config[error_col(c)] = st.column_config.NumberColumn(
                help=f"half-width of the prediction interval of {c}"
            )
    st.dataframe(results, hide_index=True, column_config=config)
st.caption(
    f"{len(results) - failed:,} predicted, {failed:,} failed, in {seconds:.2f} s on "
    f"{cache.device_label(device)} with {ui.md(info.name)}."
)
left, right = st.columns(2)
left.download_button(
    "Download CSV",
    csv_safe(results).to_csv(index=False),
    file_name="predictions.csv",
    mime="text/csv",
    on_click="ignore",
)
right.download_button(
    "Download SDF",
    "".join(sdfs),
    file_name="predictions.sdf",
    mime="chemical/x-mdl-sdfile",
    on_click="ignore",
    disabled=not any(sdfs),
    help="Predicted structures with each value as an SDF property (failed rows left out).",
)
