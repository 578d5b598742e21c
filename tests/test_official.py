"""Our PAMNet reproduces the official implementation's outputs (reference files)."""

import json
from pathlib import Path

import pytest
import torch

from pamnet.compat import official

OFFICIAL = Path(__file__).parent / "fixtures" / "official"
# The official RNA checkpoint and data are not ours to commit: read beside the checkout.
SHARED_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "official-pamnet"
INPUTS = json.loads((OFFICIAL / "inputs.json").read_text())
EXPECTED = json.loads((OFFICIAL / "expected.json").read_text())
CASES = {
    "qm9_pamnet": ("qm9_pamnet.pt", INPUTS["qm9"]),
    "qm9_pamnet_s": ("qm9_pamnet_s.pt", INPUTS["qm9"]),
    "pdbbind_pamnet": ("pdbbind_pamnet.pt", INPUTS["pdbbind"]),
}


def _check(results, expected):
    assert len(results) == len(expected["predictions"])
    for res, pred, att in zip(results, expected["predictions"], expected["attention"]):
        assert res["prediction"] == pytest.approx(pred, abs=1e-4)
        got = torch.tensor(res["attention"])
        want = torch.tensor(att)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_batched(key):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
    _check(official.run(model, cases), EXPECTED[key])


@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_one_by_one(key):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
    _check(
        [official.run(model, c) for c in cases[:4]],
        {
            "predictions": EXPECTED[key]["predictions"][:4],
            "attention": EXPECTED[key]["attention"][:4],
        },
    )


@pytest.mark.cuda
@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_on_cuda(key):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"]).to("cuda")
    _check(official.run(model, cases), EXPECTED[key])


@pytest.mark.skipif(not SHARED_REF.is_dir(), reason="shared reference folder not present")
def test_fixtures_are_the_shared_reference():
    """The copies in tests/fixtures are byte-for-byte the shared reference files."""
    for name in ("inputs.json", "qm9_pamnet.pt", "qm9_pamnet_s.pt", "pdbbind_pamnet.pt"):
        assert (OFFICIAL / name).read_bytes() == (SHARED_REF / name).read_bytes(), name
    shared = json.loads((SHARED_REF / "expected.json").read_text())
    assert {k: shared[k] for k in EXPECTED} == EXPECTED


@pytest.mark.skipif(
    not (SHARED_REF / "pamnet_rna.pt").exists(), reason="official RNA files not present"
)
def test_official_rna_checkpoint():
    expected = json.loads((SHARED_REF / "expected.json").read_text())["rna_official"]
    model = official.load(SHARED_REF / "pamnet_rna.pt", expected["config"])
    cases = official.read_tu_rna(SHARED_REF / "rna_native")[: len(expected["predictions"])]
    assert [c["name"] for c in cases] == expected["names"]
    _check(official.run(model, cases), expected)


def test_wrong_config_is_a_clear_error(tmp_path):
    from pamnet.errors import CheckpointError

    cfg = dict(EXPECTED["qm9_pamnet"]["config"], dim=16)
    with pytest.raises(CheckpointError, match="does not match"):
        official.load(OFFICIAL / "qm9_pamnet.pt", cfg)


def test_convert_then_load_our_format(tmp_path):
    from pamnet.checkpoint import load_checkpoint
    from pamnet.cli import main

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(EXPECTED["qm9_pamnet"]["config"]))
    dst = tmp_path / "converted.pt"
    assert (
        main(
            [
                "convert-official",
                str(OFFICIAL / "qm9_pamnet.pt"),
                "--config",
                str(cfg),
                "-o",
                str(dst),
            ]
        )
        == 0
    )
    loaded = load_checkpoint(dst)
    ref = official.load(OFFICIAL / "qm9_pamnet.pt", EXPECTED["qm9_pamnet"]["config"])
    batch = official._batch(INPUTS["qm9"][:5], ref.config)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(batch).prediction, ref(batch).prediction)
