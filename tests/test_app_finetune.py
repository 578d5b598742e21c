"""AppTest: the Fine-tune page (upload, column mapping, row errors, start, job controls,
curves and parity plot). Workers are not started here: `jobs.runner._launch` is
replaced, so submitted jobs stay queued; a finished job is written to the store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/4_Fine-tune.py"
CSV = b"smiles,solubility,note\nCCO,-0.8,a\nC1CC(,0.1,b\nCC[Cu],-1.2,c\nCN,x,d\nCO,-0.5,e\n"


@pytest.fixture()
def launched(monkeypatch):
    """Job ids whose worker the page asked for (none is started)."""
    from pamnet.jobs import runner

    started = []
    monkeypatch.setattr(runner, "_launch", lambda store, job_id: started.append(job_id))
    return started


@pytest.fixture()
def at(tiny_registry, launched, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return app.switch_page(PAGE).run()


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _upload(at, name="data.csv", data=CSV):
    at.file_uploader(key="ft.upload").upload(name, data)
    return at.run()


def test_empty_page_asks_for_data(at):
    assert not at.exception
    assert "Upload a CSV or SDF" in at.info[0].value
    assert "No jobs yet." in [c.value for c in at.caption]


def test_upload_maps_columns_and_lists_bad_rows(at):
    at = _upload(at)
    assert not at.exception and not at.error
    smiles = next(s for s in at.selectbox if s.label == "SMILES column")
    targets = next(m for m in at.multiselect if m.label == "Target columns")
    assert smiles.value == "smiles" and targets.value == []  # 'solubility' has an 'x' cell
    assert "Choose at least one target column." in [i.value for i in at.info]
    targets.set_value(["solubility"]).run()
    assert "3 of 5 rows will be left out." in at.warning[0].value
    bad = at.dataframe[1].value
    assert bad["row"].tolist() == [2, 3, 4]
    assert bad["column"].tolist() == ["smiles", "smiles", "solubility"]
    assert "Cu" in bad["message"][1] and "'x' is not a number" in bad["message"][2]


def test_start_submits_a_job_and_the_controls_work(at, launched):
    from pamnet import jobs

    at = _upload(at)
    next(m for m in at.multiselect if m.label == "Target columns").set_value(["solubility"]).run()
    at.number_input(key="ft.epochs").set_value(2)
    at.text_input(key="ft.unit.solubility").input("log mol/L")
    at = _button(at.run(), "Start fine-tuning").click().run()
    assert not at.exception and not at.error
    (job,) = jobs.JobStore().list()
    assert launched == [job.id] and job.name == "data-solubility"
    assert job.params["epochs"] == 2 and job.params["base"] == "tiny"
    # the options left alone are FinetuneConfig's defaults, the CLI's too
    from pamnet.cli import build_parser
    from pamnet.commands.finetune import config_from_args
    from pamnet.finetune import FinetuneConfig

    cli = config_from_args(build_parser().parse_args(["finetune", "--data", "x", "--target", "y"]))
    for name in ("lr", "batch_size", "val_fraction"):
        assert job.params[name] == getattr(cli, name) == FinetuneConfig.default(name), name
    assert cli.epochs == FinetuneConfig.default("epochs") == 30
    assert job.params["units"] == {"solubility": "log mol/L"}
    assert (job.folder / "input" / "data.csv").read_bytes() == CSV
    assert at.selectbox(key="ft.job").value == job.id
    assert "queued" in at.get("progress")[0].proto.text

    at = _button(at, "Cancel").click().run()  # a queued job without a process: at once
    assert jobs.JobStore().get(job.id).status == "cancelled"
    at = _button(at, "Resume").click().run()
    assert jobs.JobStore().get(job.id).status == "queued" and launched == [job.id, job.id]
    assert _button(at, "Delete").disabled  # active: needs the 'also a running job' box
    at.checkbox(key="ft.force").check().run()
    at = _button(at, "Delete").click().run()
    assert not at.exception and jobs.JobStore().list() == []
    assert not job.folder.exists()


def _values(x) -> list:
    """A Plotly JSON array: a list, or {'dtype', 'bdata': base64} for typed arrays."""
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    return list(x)


def test_a_finished_job_shows_curves_parity_and_card(at):
    from pamnet import jobs, registry

    store = jobs.JobStore()
    job = store.create("done1", "sol", {"epochs": 2}, epochs=2)
    for epoch, (train, val) in enumerate([(0.9, 0.8), (0.5, 0.6)], start=1):
        store.add_metrics(job.id, {"epoch": epoch, "train_loss": train, "val_loss": val})
    ckpt = registry.user_dir() / "sol.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.with_suffix(".md").write_text("# sol\nA card.")
    (job.folder / "train").mkdir(parents=True)
    preds = {"targets": ["logS"], "units": {"logS": "log mol/L"}, "names": ["a", "b", "c"],
             "rows": [1, 2, 3], "y_true": [[1.0], [2.0], [None]], "y_pred": [[1.1], [1.8], [3.0]]}  # fmt: skip
    (job.folder / "train" / "val_predictions.json").write_text(json.dumps(preds))
    store.transition(job.id, "finished", None, checkpoint=str(ckpt), finished_at=1.0)
    at = at.run()
    assert not at.exception
    assert "Finished" in at.success[0].value
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    curves, parity = (json.loads(c.proto.spec) for c in charts)
    assert [t["name"] for t in curves["data"]] == ["train_loss", "val_loss"]
    assert _values(parity["data"][1]["x"]) == [1.0, 2.0]
    assert "logS" in parity["layout"]["title"]["text"]
    assert any("A card." in m.value for m in at.markdown)
