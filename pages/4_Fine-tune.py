"""Fine-tune: upload data, map its columns, start a background job and follow it live.

Jobs run in their own processes (`pamnet.jobs`): this page only submits them and reads
their records, so it never trains, and closing it does not stop a job.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from pamnet import finetune, jobs
from pamnet.errors import PamnetError
from pamnet.paths import structures_dir
from pamnet.uncertainty import MIN_CALIBRATION
from pamnet.viz import loss_curves, parity_plot
from ui import cache

POLL_S = 2.0  # seconds between refreshes of the job view while a job is active
NEW_MODEL = "(new model)"
MOLECULES, COMPLEXES = "Molecules: a SMILES column", "Complexes: protein and ligand files"

ui.page("Fine-tune")
st.title("Fine-tune")
st.caption(
    "Train a checkpoint further on your own measurements. Jobs run in the background, "
    "survive closing the page, and their checkpoints appear on the Predict page."
)


def mapping_ui(table: finetune.Table, upload_id: str) -> finetune.ColumnMap | None:
    """Column selectboxes (defaults guessed); None until at least one target is chosen."""
    guess = finetune.guess_columns(table)
    cols = table.columns
    kind = MOLECULES
    if table.kind == "csv":
        kind = st.radio(
            "Rows are",
            [MOLECULES, COMPLEXES],
            index=int(bool(guess.protein)),
            horizontal=True,
            key=f"ft.kind:{upload_id}",
        )
    left, right = st.columns(2)
    smiles = protein = ligand = None
    if table.kind == "csv" and kind == MOLECULES:
        default = guess.smiles if guess.smiles in cols else cols[0]
        smiles = left.selectbox(
            "SMILES column", cols, index=cols.index(default), key=f"ft.smiles_col:{upload_id}"
        )
    elif table.kind == "csv":
        default = guess.protein if guess.protein in cols else cols[0]
        protein = left.selectbox(
            "Protein file column",
            cols,
            index=cols.index(default),
            key=f"ft.protein_col:{upload_id}",
        )
        options = ["(ligand inside the protein file)", *cols]
        pick = guess.ligand if guess.ligand in cols else options[0]
        choice = left.selectbox(
            "Ligand column (file or residue name)",
            options,
            index=options.index(pick),
            key=f"ft.ligand_col:{upload_id}",
        )
        ligand = None if choice == options[0] else choice
        st.caption(
            "An uploaded table has no folder of its own: the protein and ligand files it "
            "names are read from the data folder's `structures/` (relative paths inside it "
            "only; put the files there first)."
        )
    taken = {smiles, protein, ligand}
    targets = right.multiselect(
        "Target columns",
        [c for c in cols if c not in taken],
        default=[t for t in guess.targets if t not in taken],
        key=f"ft.targets:{upload_id}",
    )
    if not targets:
        st.info("Choose at least one target column.")
        return None
    return finetune.ColumnMap(tuple(targets), smiles, protein, ligand)


def options_ui(cmap: finetune.ColumnMap, upload_name: str) -> dict | None:
    """Base checkpoint and training options as FinetuneConfig fields."""
    infos = [i for i in cache.checkpoints() if i.task == cmap.task]
    names = [i.name for i in infos] + [NEW_MODEL]
    default = cache.default_checkpoint(infos) if cmap.task == "molecule" else None
    base = st.selectbox(
        "Start from",
        names,
        index=names.index(default or NEW_MODEL),
        key="ft.base",
        help="A checkpoint to fine-tune, or a new randomly initialised model",
    )
    known = next((i.targets for i in infos if i.name == base), [])
    if base != NEW_MODEL:
        reuse = [t for t in cmap.targets if t in known]
        st.caption(
            ui.md(
                (f"Reuses the heads of {', '.join(reuse)}; " if reuse else "")
                + f"new heads for {', '.join(t for t in cmap.targets if t not in known) or 'none'}."
            )
        )
    with st.expander("Training options"):
        c1, c2, c3 = st.columns(3)
        default = finetune.FinetuneConfig.default
        epochs = c1.number_input("Epochs", 1, 10_000, default("epochs"), key="ft.epochs")
        lr = c2.number_input("Learning rate", 1e-6, 1.0, default("lr"), format="%.0e", key="ft.lr")
        batch = c3.number_input("Batch size", 1, 4096, default("batch_size"), key="ft.batch")
        val_default = default("val_fraction")
        val = c1.number_input("Validation fraction", 0.0, 0.9, val_default, 0.05, key="ft.val")
        seed = c2.number_input("Split seed", 0, 10**6, 0, key="ft.split_seed")
        patience = c3.number_input(
            "Early stop after (epochs, 0 = off)", 0, 1000, 0, key="ft.patience"
        )
        freeze = st.multiselect(
            "Freeze",
            list(finetune.FREEZE_GROUPS),
            key="ft.freeze",
            help="embeddings: atom input and bases; global/local: the "
            "message-passing layers; heads: output and fusion weights",
        )
        new_heads = st.checkbox("New heads even for targets the base knows", key="ft.new_heads")
        units = {t: st.text_input(f"Unit of {ui.md(t)}", key=f"ft.unit.{t}") for t in cmap.targets}
        devices = ["auto", "cpu"] + (["cuda"] if cache.has_cuda() else [])
        device = st.radio(
            "Device",
            devices,
            horizontal=True,
            key="ft.device",
            help="auto: the GPU when there is one",
        )
    stem = finetune.safe_name(f"{Path(upload_name).stem}-{'-'.join(cmap.targets)}")
    name = st.text_input("Checkpoint name", stem, key="ft.name").strip() or stem
    return {
        "base": finetune.FRESH if base == NEW_MODEL else base,
        "epochs": int(epochs),
        "lr": float(lr),
        "batch_size": int(batch),
        "val_fraction": float(val),
        "split_seed": int(seed),
        "patience": int(patience) or None,
        "freeze": tuple(freeze),
        "new_heads": bool(new_heads),
        "units": {t: u.strip() for t, u in units.items() if u.strip()},
        "device": device,
        "name": name,
    }


def submit(data: bytes, name: str, cmap: finetune.ColumnMap, options: dict) -> jobs.Job:
    """Write the upload to a temporary file and submit it (the job keeps its own copy)."""
    folder = Path(tempfile.mkdtemp(prefix="pamnet-upload-"))
    try:
        path = folder / Path(name).name
        path.write_bytes(data)
        config = finetune.FinetuneConfig(
            data=str(path),
            targets=cmap.targets,
            smiles_col=cmap.smiles,
            protein_col=cmap.protein,
            ligand_col=cmap.ligand,
            **options,
        )
        if cmap.task == "complex":
            config = replace(config, root=str(structures_dir()))
        return jobs.submit(config)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_job_ui() -> None:
    st.subheader("New job")
    upload = st.file_uploader(
        "Data: a CSV (SMILES or complex files, plus target columns) or an SDF with target fields",
        type=["csv", "sdf", "sd"],
        key="ft.upload",
    )
    if upload is None:
        st.info(
            "Upload a CSV or SDF to start. Example CSV: `smiles,solubility` then one "
            "molecule per row."
        )
        return
    data = upload.getvalue()
    try:
        table = cache.finetune_table(data, upload.name)
    except PamnetError as exc:
        st.error(ui.md(exc))
        return
    st.dataframe(table.frame.head(100), height=210)
    st.caption(f"{len(table.frame):,} rows · columns: {ui.md(', '.join(table.columns))}")
    cmap = mapping_ui(table, upload.file_id)
    if cmap is None:
        return
    bad = cache.row_errors(data, upload.name, cmap)
    if len(bad) == len(table.frame):
        st.error("No row is usable with these columns; see the problems below.")
    elif len(bad):
        st.warning(f"{len(bad):,} of {len(table.frame):,} rows will be left out.")
    else:
        st.success(f"All {len(table.frame):,} rows look usable.")
    if len(bad):
        st.dataframe(bad, hide_index=True)
    options = options_ui(cmap, upload.name)
    if st.button("Start fine-tuning", type="primary", disabled=len(bad) == len(table.frame)):
        try:
            job = submit(data, upload.name, cmap, options)
        except PamnetError as exc:
            st.error(ui.md(exc))
            return
        st.session_state["ft.job"] = job.id
        st.success(f"Started job {job.name}; follow it below.")


# --- the job list, live -------------------------------------------------------------------
def _when(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else ""


def job_table(all_jobs: list[jobs.Job]) -> None:
    frame = pd.DataFrame(
        {
            "name": j.name,
            "status": j.state,
            "progress": j.progress,
            "epoch": f"{j.epoch}/{j.epochs}",
            "started": _when(j.started_at or j.created_at),
            "note": j.phase if j.active else (j.error or ""),
        }
        for j in all_jobs
    )
    st.dataframe(
        frame,
        hide_index=True,
        column_config={"progress": st.column_config.ProgressColumn(min_value=0, max_value=1)},
    )


def actions(job: jobs.Job, store: jobs.JobStore) -> None:
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    try:
        if c1.button("Cancel", disabled=job.status not in ("queued", "running"), key="ft.cancel"):
            jobs.cancel(job.id, store)
            st.rerun()
        if c2.button("Resume", disabled=not job.resumable, key="ft.resume"):
            jobs.resume(job.id, store)
            st.rerun()  # start polling
        force = c4.checkbox("also a running job", key="ft.force", disabled=not job.active)
        if c3.button("Delete", disabled=job.active and not force, key="ft.delete"):
            jobs.delete(job.id, store, force=force)
            st.session_state.pop("ft.job", None)
            st.rerun()
    except PamnetError as exc:
        st.error(ui.md(exc))


def results(job: jobs.Job) -> None:
    """The final parity plots on the validation set and the model card."""
    val = finetune.val_predictions(job.folder / "train")
    if val and val["y_true"]:
        tabs = (
            st.tabs([ui.md(t) for t in val["targets"]])
            if len(val["targets"]) > 1
            else [st.container()]
        )
        for k, (t, tab) in enumerate(zip(val["targets"], tabs)):
            pairs = [
                (a[k], b[k], n)
                for a, b, n in zip(val["y_true"], val["y_pred"], val["names"])
                if a[k] is not None and b[k] is not None
            ]
            if pairs:
                true, pred, names = zip(*pairs)
                if len(pairs) < MIN_CALIBRATION:
                    tab.warning(
                        f"Only {len(pairs)} validation molecules for {ui.md(t)}: too few to "
                        "judge the model by (its error on them could be luck either way) or to "
                        f"calibrate intervals (that needs {MIN_CALIBRATION}). Fine-tune on more "
                        "data, or with a larger validation fraction, before trusting it."
                    )
                fig = parity_plot(true, pred, t, val["units"].get(t, ""), labels=names)
                tab.plotly_chart(fig, key=f"ft.parity.{job.id}.{t}")
    card = Path(job.checkpoint).with_suffix(".md") if job.checkpoint else None
    if card and card.is_file():
        with st.expander("Model card"):
            st.markdown(card.read_text())
    if st.button(f"Predict with {ui.md(job.name)}", icon=":material/query_stats:"):
        ui.session().checkpoint = job.name  # the Predict page opens with this model chosen
        st.switch_page("pages/2_Predict.py")


def job_detail(job: jobs.Job, store: jobs.JobStore) -> None:
    text = f"{job.state} · epoch {job.epoch} of {job.epochs}"
    st.progress(job.progress, text=ui.md(text + (f" · {job.phase}" if job.phase else "")))
    if job.stalled_s is not None:
        st.warning(
            f"No sign of life from this job's processes for {job.stalled_s:.0f} s: stopped or "
            "frozen. Cancel it, or delete it with *also a running job* ticked."
        )
    if job.status == "failed":
        st.error(ui.md(job.error or "failed"))
    elif job.status == "finished":
        st.success(f"Finished: checkpoint **{ui.md(job.name)}** is on the Predict page.")
    actions(job, store)
    metrics = store.metrics(job.id)
    if metrics:
        cols = [c for c in ("train_loss", "val_loss") if any(m.get(c) is not None for m in metrics)]
        fig = loss_curves(metrics, x="epoch", y=cols, title="Loss (L1 on normalized targets)")
        st.plotly_chart(fig, key=f"ft.curves.{job.id}")
    if job.status == "finished":
        results(job)
    errors = job.folder / "train" / "row_errors.csv"
    if errors.is_file() and errors.stat().st_size > 30:
        with st.expander("Rows left out"):
            st.dataframe(pd.read_csv(errors), hide_index=True)
    with st.expander("Log"):
        lines = store.logs(job.id, 40)
        st.code("\n".join(f"{_when(r['ts'])} {r['message']}" for r in lines) or "(empty)", None)


def jobs_live(polling: bool) -> None:
    store = jobs.JobStore()
    if store.notice:
        st.warning(ui.md(store.notice))
    all_jobs = store.list()
    if polling and not any(j.active for j in all_jobs):
        st.rerun()  # the last job ended: a full rerun stops polling
    if not all_jobs:
        st.caption("No jobs yet.")
        return
    job_table(all_jobs)
    ids = [j.id for j in all_jobs]
    by_id = {j.id: j for j in all_jobs}
    if st.session_state.get("ft.job") not in by_id:
        st.session_state["ft.job"] = ids[0]
    chosen = st.selectbox("Job", ids, key="ft.job", format_func=lambda i: f"{by_id[i].name} · {i}")
    job_detail(by_id[chosen], store)


new_job_ui()
st.subheader("Jobs")
active = any(j.active for j in jobs.JobStore().list())
st.fragment(jobs_live, run_every=POLL_S if active else None)(active)
