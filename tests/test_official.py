"""Our PAMNet reproduces the official implementation's outputs (reference files)."""

import json
import math
from pathlib import Path

import pytest
import torch

import pamnet.nn._sbf_forms as sbf_forms
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


def _check(results, expected, tol=None):
    """Predictions and attention within 1e-4 of the reference, or within `tol[i]` for
    case i where the reference itself is defined less precisely (`_tolerances`)."""
    assert len(results) == len(expected["predictions"])
    tol = tol or [1e-4] * len(results)
    for res, pred, att, t in zip(
        results, expected["predictions"], expected["attention"], tol, strict=True
    ):
        assert res["prediction"] == pytest.approx(pred, abs=t)
        got = torch.tensor(res["attention"])
        want = torch.tensor(att)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=t, rtol=0)


def _ulp_jitter(fn, gen):
    def jittered(x):
        y = fn(x)
        step = torch.randint(-1, 2, y.shape, generator=gen)
        up = torch.nextafter(y, torch.full_like(y, math.inf))
        down = torch.nextafter(y, torch.full_like(y, -math.inf))
        return torch.where(step > 0, up, torch.where(step < 0, down, y))

    return jittered


def _tolerances(model, cases, monkeypatch, draws=6):
    """Per case: 1e-4, or 4x how far the outputs move when sin and cos in the spherical
    basis are off by one ulp, if that is more.

    The reference was computed in float32 with one CPU's sin and cos. Where two atoms
    are much closer than in any real structure (the synthetic PDBbind complexes have
    pairs at 0.15-0.4 Angstrom), the official closed forms of the spherical Bessel
    functions cancel catastrophically, and one ulp of sin or cos (another CPU's vector
    path, or a GPU) moves the prediction by up to 4e-2. Demanding 1e-4 there would test
    that this machine rounds like the reference's. QM9's cases move by under 1e-6 and
    keep 1e-4 (`test_where_the_reference_is_exact`), and so do the 12 native RNA
    structures (measured: none moves by 2.5e-5; closest pair 1.2 Angstrom).
    """
    base = official.run(model, cases)
    gen = torch.Generator().manual_seed(0)
    monkeypatch.setattr(sbf_forms, "sin", _ulp_jitter(torch.sin, gen))
    monkeypatch.setattr(sbf_forms, "cos", _ulp_jitter(torch.cos, gen))
    moved = [0.0] * len(cases)
    for _ in range(draws):
        for i, (a, b) in enumerate(zip(base, official.run(model, cases), strict=True)):
            att = torch.tensor(a["attention"]) - torch.tensor(b["attention"])
            move = max(abs(a["prediction"] - b["prediction"]), float(att.abs().max()))
            moved[i] = max(moved[i], move)
    monkeypatch.undo()
    return [max(1e-4, 4 * m) for m in moved]


@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_batched(key, monkeypatch):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
    _check(official.run(model, cases), EXPECTED[key], _tolerances(model, cases, monkeypatch))


@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_one_by_one(key, monkeypatch):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
    _check(
        [official.run(model, c) for c in cases[:4]],
        {
            "predictions": EXPECTED[key]["predictions"][:4],
            "attention": EXPECTED[key]["attention"][:4],
        },
        _tolerances(model, cases[:4], monkeypatch),
    )


@pytest.mark.cuda
@pytest.mark.parametrize("key", sorted(CASES))
def test_reference_on_cuda(key, monkeypatch):
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
    tol = _tolerances(model, cases, monkeypatch)
    _check(official.run(model.to("cuda"), cases), EXPECTED[key], tol)


@pytest.mark.cuda
@pytest.mark.parametrize("key", sorted(CASES))
def test_float64_cuda_matches_cpu(key):
    """The same function on the GPU: in float64 nothing cancels badly, so 1e-7."""
    ckpt, cases = CASES[key]
    model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"]).double()
    batch = official._batch(cases, model.config).to("cpu", torch.float64)
    with torch.no_grad():
        cpu = model(batch, return_attention=True)
        gpu = model.to("cuda")(batch.to("cuda"), return_attention=True)
    torch.testing.assert_close(gpu.prediction.cpu(), cpu.prediction, atol=1e-7, rtol=0)
    torch.testing.assert_close(gpu.attention.cpu(), cpu.attention, atol=1e-7, rtol=0)


def test_where_the_reference_is_exact(monkeypatch):
    """`_tolerances` widens only the synthetic complexes' cases, not QM9's."""
    for key in ("qm9_pamnet", "pdbbind_pamnet"):
        ckpt, cases = CASES[key]
        model = official.load(OFFICIAL / ckpt, EXPECTED[key]["config"])
        tol = _tolerances(model, cases, monkeypatch)
        if key == "qm9_pamnet":
            assert tol == [1e-4] * len(cases)
        else:
            assert max(tol) > 1e-3  # the pairs at 0.15-0.4 Angstrom


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
    _check(official.run(model, cases), expected)  # real structures: 1e-4 (see _tolerances)


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
