"""AppTest: one checkpoint choice across sidebar and pages, and user text inert in every
label a finished fine-tune shows (target names in tabs, the job's name on buttons)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = "![t](http://evil.example/x.png)"


@pytest.fixture()
def app(monkeypatch, tiny_registry):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()


def _sidebar_checkpoint(at) -> str:
    captions = [c.value for c in at.sidebar.caption]
    headers = [h.value for h in at.sidebar.subheader]
    # the caption right under the "Checkpoint" subheader
    return captions[headers.index("Checkpoint")] if "Checkpoint" in headers else ""


def test_the_sidebar_names_the_model_the_predict_page_uses(app, tiny_registry):
    shutil.copy(tiny_registry / "tiny.pt", tiny_registry / "other.pt")
    at = app.switch_page("pages/2_Predict.py").run()
    at.selectbox(key="predict.checkpoint").set_value("other").run()
    assert not at.exception
    assert at.selectbox(key="predict.checkpoint").value == "other"
    assert "other" in _sidebar_checkpoint(at)
    at = at.switch_page("pages/5_Learn.py").run()  # the pick outlives the page
    assert "other" in _sidebar_checkpoint(at) and not at.exception


def _finished_job(tiny_registry: Path, name: str, targets: list[str]):
    from pamnet import jobs
    from pamnet.registry import user_dir

    store = jobs.JobStore()
    job = store.create("20261203-000000-abcdef", name, {"targets": targets}, epochs=1)
    user_dir().mkdir(parents=True, exist_ok=True)
    ckpt = user_dir() / f"{name}.pt"
    shutil.copy(tiny_registry / "tiny.pt", ckpt)
    (job.folder / "train").mkdir(parents=True)
    val = {
        "targets": targets,
        "units": {t: "eV" for t in targets},
        "names": ["a", "b"],
        "rows": [1, 2],
        "y_true": [[1.0, 2.0], [2.0, 3.0]],
        "y_pred": [[1.1, 2.1], [1.9, 2.8]],
    }
    (job.folder / "train" / "val_predictions.json").write_text(json.dumps(val))
    store.transition(job.id, "finished", ("queued",), checkpoint=str(ckpt), epoch=1)
    return job


def _unescaped_markup(text: str) -> bool:
    """An image/link opener or a bare URL left live in Markdown text."""
    bare = re.sub(r"\\(.)", r"\1", text)
    return bool(re.search(r"(?<!\\)!\[|(?<!\\)\]\(", text) or re.search(r"https?://|www\.", bare))


def test_predict_with_a_fine_tuned_model_opens_predict_with_it(app, tiny_registry):
    _finished_job(tiny_registry, "mine", ["homo", "u0"])
    at = app.switch_page("pages/4_Fine-tune.py").run()
    assert not at.exception
    button = next(b for b in at.button if b.label.startswith("Predict with"))
    at = button.click().run()
    assert at.selectbox(key="predict.checkpoint").value == "mine"
    assert "mine" in _sidebar_checkpoint(at)


def test_fine_tune_results_keep_user_text_inert(app, tiny_registry):
    _finished_job(tiny_registry, "evil", [PAYLOAD, "u0 " + PAYLOAD])
    at = app.switch_page("pages/4_Fine-tune.py").run()
    assert not at.exception
    labels = [t.label for t in at.tabs] + [b.label for b in at.button]
    labels += [m.value for m in at.markdown] + [c.value for c in at.caption]
    shown = [x for x in labels if "evil" in x]
    assert shown, labels  # the payload is on the page, as text
    assert not [x for x in shown if _unescaped_markup(x)], shown


# --- every text element of every page, with payloads in every field we can fill -------
def _texts(at) -> list[str]:
    """Every piece of text the app renders as Markdown: bodies and labels of all elements
    (main area and sidebar), widget labels and help, tab and expander labels."""
    out: list[str] = []

    def walk(node) -> None:
        for attr in ("value", "body", "label", "help", "caption"):
            v = getattr(node, attr, None)
            if isinstance(v, str):
                out.append(v)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def _assert_inert(at) -> None:
    shown = [x for x in _texts(at) if "evil" in x]
    assert shown  # the payload reached the page, as text
    assert not [x for x in shown if _unescaped_markup(x)], shown


def test_every_page_keeps_payload_names_titles_and_columns_inert(app, tiny_registry):
    title = f"water {PAYLOAD} www.evil.example"
    xyz = f"3\n{title}\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n"
    at = app.switch_page("pages/1_Structure.py").run()
    at.file_uploader[0].upload(f"{PAYLOAD}.xyz", xyz.encode())
    at = at.run()
    assert not at.exception
    _assert_inert(at)  # structure name in the sidebar and captions, upload name in notes
    at = at.switch_page("pages/2_Predict.py").run()
    assert not at.exception
    _assert_inert(at)
    table = f"{PAYLOAD},smiles,{PAYLOAD} target\n{PAYLOAD},CCO,1\nbad {PAYLOAD},C1CC(,2\n"
    at.radio(key="predict.mode").set_value("Batch: CSV of SMILES").run()
    at.file_uploader[0].upload(f"{PAYLOAD}.csv", table.encode())
    at = at.run()
    assert not at.exception
    _assert_inert(at)
    for page in ("pages/3_Attention.py", "pages/5_Learn.py"):
        at = at.switch_page(page).run()
        assert not at.exception
        _assert_inert(at)  # the sidebar still names the payload-titled structure
