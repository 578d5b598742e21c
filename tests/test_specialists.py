"""Specialists: a target answered by its own network inside the base model's checkpoint."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import torch

from pamnet import inference, specialists
from pamnet.checkpoint import LoadedModel, Normalization, load_checkpoint, save_checkpoint
from pamnet.data import collate
from pamnet.errors import CheckpointError
from pamnet.io import from_smiles
from pamnet.predict import Predictor
from pamnet.testing import random_molecule, tiny_model

TARGETS = ["homo", "u0"]
NORM = Normalization(
    mean=[-6.5, -2.0],
    std=[0.6, 0.3],
    per_atom=[False, True],
    atom_ref=[[0, -13.6], [0, -1030.0], [0, -1485.0], [0, -2042.0], [0, -2713.0]],
)
UNITS = {"homo": "eV", "u0": "eV"}


def _loaded(seed: int, norm: Normalization = NORM) -> LoadedModel:
    model = tiny_model(num_targets=2, seed=seed)
    return LoadedModel(model, list(TARGETS), dict(UNITS), norm, {"geometry": "dft"}, f"m{seed}")


def _batch():
    return collate([random_molecule(n, seed=n) for n in (5, 9, 12)]).to("cpu", torch.float64)


def test_specialist_column_comes_from_the_specialist_and_the_rest_from_the_base():
    base, spec = _loaded(0), _loaded(1)
    combined = specialists.attach(base, {"u0": spec})
    combined.combined.double()
    batch = _batch()
    both = inference.run(combined.combined, batch, NORM).values
    alone_base = inference.run(base.model, batch, NORM).values
    alone_spec = inference.run(spec.model, batch, NORM).values
    torch.testing.assert_close(both[:, 0], alone_base[:, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(both[:, 1], alone_spec[:, 1], rtol=0, atol=1e-12)
    assert not torch.allclose(alone_base[:, 1], alone_spec[:, 1])  # the test can fail
    assert combined.model is base.model and combined.model_for("u0") is spec.model
    assert combined.model_for("homo") is base.model


def test_contributions_and_their_split_still_add_up_to_the_values():
    combined = specialists.attach(_loaded(0), {"u0": _loaded(1)})
    combined.combined.double()
    batch = _batch()
    out = inference.run(combined.combined, batch, NORM, attention=True, contributions=True)
    per_atom = out.contributions.sum(0)  # [N, T]
    summed = torch.zeros_like(out.values).index_add_(0, batch.graph, per_atom)
    torch.testing.assert_close(summed, out.values, rtol=0, atol=1e-6)
    learned = out.channels.sum((0, 2)) + out.offset  # [N, T]
    torch.testing.assert_close(learned, per_atom, rtol=0, atol=1e-6)
    assert out.attention.shape[-1] == 2


def test_save_and_load_keep_the_specialists_and_the_base_weights():
    combined = specialists.attach(_loaded(0), {"u0": _loaded(1)})
    buf = io.BytesIO()
    save_checkpoint(buf, combined.model, TARGETS, UNITS, NORM, {}, None, combined.specialists)
    buf.seek(0)
    back = load_checkpoint(buf, "cpu")
    assert list(back.specialists) == ["u0"]
    assert set(back.model.state_dict()) == set(combined.model.state_dict())  # the paper's keys
    batch = _batch().to("cpu", torch.float32)
    expect = inference.run(combined.combined, batch, NORM).values
    torch.testing.assert_close(inference.run(back.combined, batch, NORM).values, expect)


def test_predictor_answers_from_the_specialist():
    base, spec = _loaded(0), _loaded(1)
    mol = from_smiles("CCO")
    got = Predictor(specialists.attach(base, {"u0": spec}), "cpu").predict([mol])[0]
    want = Predictor(spec, "cpu").predict([mol])[0]
    assert got.values["u0"] == pytest.approx(want.values["u0"], rel=1e-9)
    assert got.values["homo"] == pytest.approx(
        Predictor(base, "cpu").predict([mol])[0].values["homo"], rel=1e-9
    )


def test_integrated_gradients_of_a_specialist_target_explain_the_value_shown():
    from pamnet.explain import attribute, explain

    base = _loaded(0)
    exp = explain(from_smiles("CCO"), specialists.attach(base, {"u0": _loaded(1)}), device="cpu")
    a = attribute(exp, target="u0", n_steps=32)
    assert a.f_input == pytest.approx(exp.values["u0"], rel=1e-9)
    assert exp.contributions[..., 1].sum() == pytest.approx(exp.values["u0"], rel=1e-9)
    plain = explain(from_smiles("CCO"), base, device="cpu")
    assert plain.values["u0"] != pytest.approx(exp.values["u0"], rel=1e-6)
    assert exp.specialists == ["u0"] and exp.to_dict()["specialists"] == ["u0"]
    assert plain.specialists == [] and "specialists" not in plain.to_dict()


def test_attach_refuses_what_cannot_be_a_specialist():
    base = _loaded(0)
    with pytest.raises(CheckpointError, match="no target 'mu'"):
        specialists.attach(base, {"mu": _loaded(1)})
    other = LoadedModel(tiny_model(num_targets=2, seed=1, dim=16), TARGETS, UNITS, NORM, {})
    with pytest.raises(CheckpointError, match="config differs.*dim.*pamnet train --init"):
        specialists.attach(base, {"u0": other})
    shifted = Normalization(NORM.mean[:1] + [-2.5], NORM.std, NORM.per_atom, NORM.atom_ref)
    with pytest.raises(CheckpointError, match="normalisation of 'u0' differs"):
        specialists.attach(base, {"u0": _loaded(1, shifted)})
    elsewhere = replace(_loaded(1), metadata={"split": {"seed": 1}})
    with pytest.raises(CheckpointError, match="another split"):
        specialists.attach(replace(base, metadata={"split": {"seed": 0}}), {"u0": elsewhere})
    # the other target's normalisation may differ: its column is never taken
    fine = Normalization([-7.0, -2.0], [0.5, 0.3], NORM.per_atom, NORM.atom_ref)
    assert list(specialists.attach(base, {"u0": _loaded(1, fine)}).specialists) == ["u0"]


def test_attach_drops_the_calibration():
    base = replace(_loaded(0), calibration=object())
    assert specialists.attach(base, {"u0": _loaded(1)}).calibration is None


def test_a_damaged_specialists_entry_is_refused_with_the_file_named(tmp_path):
    combined = specialists.attach(_loaded(0), {"u0": _loaded(1)})
    path = tmp_path / "m.pt"
    save_checkpoint(path, combined.model, TARGETS, UNITS, NORM, {}, None, combined.specialists)
    payload = torch.load(path, weights_only=True)
    payload["specialists"][0]["model"].popitem()
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"m\.pt: the u0 specialist's weights do not fit"):
        load_checkpoint(path, "cpu")
    payload["specialists"] = [{"targets": ["u0"]}]
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not fit the base model's config"):
        load_checkpoint(path, "cpu")


def test_the_registry_and_the_cli_name_the_specialist_targets(tmp_path, monkeypatch, capsys):
    from pamnet.cli import main
    from pamnet.registry import list_checkpoints

    combined = specialists.attach(_loaded(0), {"u0": _loaded(1)})
    save_checkpoint(tmp_path / "spec.pt", combined.model, TARGETS, UNITS, NORM, {}, None,
                    combined.specialists)  # fmt: skip
    save_checkpoint(tmp_path / "plain.pt", combined.model, TARGETS, UNITS, NORM, {})
    monkeypatch.setenv("PAMNET_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("PAMNET_DATA_DIR", str(tmp_path / "data"))
    found = {i.name: i.specialists for i in list_checkpoints()}
    assert found == {"spec": ["u0"], "plain": []}
    assert main(["checkpoints"]) == 0
    out = capsys.readouterr().out
    assert "homo, u0*" in out and "homo, u0\n" in out and "* answered by a specialist" in out


def test_one_specialist_for_several_targets_is_stored_and_run_once(tmp_path):
    base, spec = _loaded(0), _loaded(1)
    combined = specialists.attach(base, {"homo": spec, "u0": spec})
    assert len(combined.combined.members) == 1 and combined.combined.columns == [[0, 1]]
    path = tmp_path / "m.pt"
    save_checkpoint(path, combined.model, TARGETS, UNITS, NORM, {}, None, combined.specialists)
    payload = torch.load(path, weights_only=True)
    assert [e["targets"] for e in payload["specialists"]] == [["homo", "u0"]]
    back = load_checkpoint(path, "cpu")
    assert back.specialists["homo"] is back.specialists["u0"]
    batch = _batch().to("cpu", torch.float32)
    got = inference.run(back.combined, batch, NORM).values
    torch.testing.assert_close(got, inference.run(spec.model, batch, NORM).values)


def test_replacing_a_specialist_is_not_hidden_by_the_cached_combined_module():
    base = _loaded(0)
    first = specialists.attach(base, {"u0": _loaded(1)})
    assert first.combined.members[0] is first.specialists["u0"].model  # cached, then copied
    second = specialists.attach(first, {"u0": _loaded(2)})
    assert second.combined.members[0] is second.specialists["u0"].model
