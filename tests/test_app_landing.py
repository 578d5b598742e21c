"""AppTest: the landing page (app.py), with and without a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def app(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))  # `import ui`, as `streamlit run` allows
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_landing_shows_device_checkpoints_picture_and_links(app, tiny_registry):
    at = app.run()
    assert not at.exception
    assert at.title[0].value == "PAMNet Studio"
    assert "local" in at.markdown[0].value and "non-local" in at.markdown[0].value
    assert at.metric[0].label == "Device" and at.metric[0].value.startswith(("CPU", "GPU"))
    table = at.dataframe[0].value
    assert list(table["name"]) == ["tiny"]
    assert table["targets"][0] == "homo [eV], u0 [eV]"
    (picture,) = at.get("iframe")
    assert "addCylinder" in picture.proto.srcdoc
    # 3Dmol.js comes from the app's own static route (no network), once for all views: the
    # page names it, and the file is there under app.py's static/ folder, as Streamlit
    # serves it (the repository's config turns static serving on).
    from ui.viewer import SCRIPT_SRC

    assert f'<script src="{SCRIPT_SRC}">' in picture.proto.srcdoc
    assert "Promise.resolve()" in picture.proto.srcdoc
    served = ROOT / "static" / SCRIPT_SRC.removeprefix("app/static/")
    assert served.resolve().is_file() and served.stat().st_size > 400_000
    assert len(picture.proto.srcdoc) < 50_000  # not inlined again in each view
    links = [p.proto.page for p in at.get("page_link")]
    assert any("Structure" in p for p in links) and any("Predict" in p for p in links)
    assert "CPU" in " ".join(c.value for c in at.sidebar.caption) or "GPU" in " ".join(
        c.value for c in at.sidebar.caption
    )


def test_landing_without_checkpoint_says_so(app, tmp_path, monkeypatch):
    monkeypatch.setenv("PAMNET_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("PAMNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT", raising=False)
    at = app.run()
    assert not at.exception
    assert "No checkpoint found" in at.warning[0].value
    assert any("None found" in c.value for c in at.sidebar.caption)
    assert at.get("iframe")  # the picture needs no model
