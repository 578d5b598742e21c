"""The generic trainer: normalization round trip, loss goes down, exact resume, NaN masking."""

import math
import shutil

import pytest
import torch
from torch.testing import assert_close

from pamnet.checkpoint import Normalization, load_checkpoint
from pamnet.config import ModelConfig
from pamnet.data import collate
from pamnet.errors import ConfigError
from pamnet.inference import mae, predict_graphs, score
from pamnet.model import PAMNet
from pamnet.normalize import to_normalized, to_physical
from pamnet.testing import random_molecule
from pamnet.training import GraphDataset, TrainConfig, Trainer, load_state, masked_l1

TARGETS = ["energy", "size"]
NORM = Normalization(
    mean=[0.5, 2.0],
    std=[0.7, 1.5],
    per_atom=[True, False],
    atom_ref=[[-1.0, 0.0], [-3.0, 0.0], [-4.0, 0.0], [-5.0, 0.0], [-6.0, 0.0]],
)


def _dataset(n: int = 64, seed: int = 0) -> GraphDataset:
    graphs = [random_molecule(4 + (i % 7), seed=seed * 1000 + i) for i in range(n)]
    ref = torch.tensor(NORM.atom_ref, dtype=torch.float64)
    y = torch.stack(
        [
            torch.stack(
                [
                    ref[g.atom_type, 0].sum() + 0.3 * g.num_atoms + 0.1 * g.pos.double().std(),
                    g.pos.double().norm(dim=1).mean(),
                ]
            )
            for g in graphs
        ]
    )
    return GraphDataset(graphs, y)


def _model(seed: int = 0) -> PAMNet:
    torch.manual_seed(seed)
    return PAMNet(ModelConfig(dim=16, n_layer=1, num_targets=2, num_rbf=6, num_spherical=3,
                              num_radial=3))  # fmt: skip


def _config(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=16, lr=3e-3, warmup_epochs=0.5, device="cpu", seed=1)
    return TrainConfig(**{**base, **kw})


def test_normalization_round_trip_with_atom_refs():
    data = _dataset(8)
    batch = collate(data.graphs)
    raw = to_normalized(data.y, batch, NORM)
    assert_close(to_physical(raw, batch, NORM), data.y, rtol=0, atol=1e-12)
    # by hand for one molecule: y = std * raw + mean * n_atoms + sum of atom refs
    g = data.graphs[0]
    expect = 0.7 * raw[0, 0] + 0.5 * g.num_atoms + sum(NORM.atom_ref[t][0] for t in g.atom_type)
    assert math.isclose(float(expect), float(data.y[0, 0]), abs_tol=1e-9)
    assert math.isclose(float(1.5 * raw[0, 1] + 2.0), float(data.y[0, 1]), abs_tol=1e-9)


def test_masked_l1_and_mae_skip_nan():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[2.0, float("nan")], [3.0, 6.0]])
    assert float(masked_l1(pred, target)) == pytest.approx(1.0)
    assert mae(pred, target).tolist() == pytest.approx([0.5, 2.0])
    # column weights: (3 * 1 + 3 * 0 + 1 * 2) / 3 valid entries
    assert float(masked_l1(pred, target, torch.tensor([3.0, 1.0]))) == pytest.approx(5 / 3)


def test_loss_weights_steer_the_loss_and_survive_a_resume(tmp_path):
    data = _dataset(32)
    batch_loss = {}
    for name, weights in (("equal", None), ("size x3", {"size": 3.0}), ("size 0", {"size": 0})):
        trainer = Trainer(_model(), data, NORM, TARGETS, _config(loss_weights=weights))
        batch_loss[name] = float(trainer._batch_loss(torch.arange(16)))
        err = (trainer.net(collate(data.graphs[:16])).prediction - to_normalized(
            data.y[:16], collate(data.graphs[:16]), NORM).float()).abs().mean(0)  # fmt: skip
    assert batch_loss["equal"] == pytest.approx(float(err.mean()), rel=1e-5)
    assert batch_loss["size x3"] == pytest.approx(float((err[0] + 3 * err[1]) / 2), rel=1e-5)
    assert batch_loss["size 0"] == pytest.approx(float(err[0] / 2), rel=1e-5)
    assert TrainConfig(loss_weights={"*": 0, "size": 1}).weight_vector(TARGETS) == [0.0, 1.0]
    with pytest.raises(ConfigError, match="at least one target needs W > 0"):
        TrainConfig(loss_weights={"*": 0}).weight_vector(TARGETS)
    # the validation score (best.pt's criterion) is weighted the same way
    err = torch.tensor([1.0, 2.0, float("nan")])
    assert score(err, [1.0, 4.0, 1.0]) == pytest.approx(0.75)
    assert score(err, [1.0, 4.0, 1.0], torch.tensor([0.0, 1.0, 5.0])) == pytest.approx(0.5)
    trainer = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1, loss_weights={"size": 2}),
                      out_dir=tmp_path)  # fmt: skip
    trainer.fit()
    resumed = Trainer.from_state(tmp_path / "state.pt", data, epochs=2)
    assert resumed.loss_weights.tolist() == [1.0, 2.0]
    with pytest.raises(ConfigError, match=r"loss weights for \['mu'\]: not among the targets"):
        Trainer(_model(), data, NORM, TARGETS, _config(loss_weights={"mu": 2}))


def test_short_training_lowers_the_loss():
    trainer = Trainer(_model(), _dataset(), NORM, TARGETS, _config(epochs=8))
    result = trainer.fit()
    losses = [m.train_loss for m in result.metrics]
    assert len(losses) == 8 and result.step == 8 * 4
    assert losses[-1] < 0.7 * losses[0], losses


def test_missing_targets_are_masked(tmp_path):
    data = _dataset(32)
    data.y[::2, 1] = float("nan")
    trainer = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1), val=data, out_dir=tmp_path)
    result = trainer.fit()
    assert math.isfinite(result.metrics[0].train_loss)
    assert all(math.isfinite(v) for v in result.metrics[0].val_mae.values())
    loaded = load_checkpoint(tmp_path / "best.pt")  # EMA weights in our checkpoint format
    assert loaded.targets == TARGETS and loaded.normalization == NORM
    assert loaded.metadata["training"]["epochs_done"] == 1
    pred = predict_graphs(loaded.model, data.graphs, loaded.normalization)
    assert pred.shape == (32, 2) and pred.dtype == torch.float64


def _all_weights(trainer: Trainer) -> dict:
    return {**trainer.model.state_dict(), **{f"ema.{k}": v for k, v in trainer.ema.shadow.items()}}


def test_resume_continues_exactly(tmp_path):
    data, val = _dataset(48), _dataset(16, seed=1)
    straight = Trainer(_model(), data, NORM, TARGETS, _config(epochs=2), val=val)
    straight.fit()

    first = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1), val=val, out_dir=tmp_path)
    first.fit()
    assert load_state(tmp_path / "state.pt")["epoch"] == 1
    resumed = Trainer.from_state(tmp_path / "state.pt", data, val, epochs=2)
    assert resumed.epoch == 1 and resumed.step == first.step
    resumed.fit()
    assert resumed.step == straight.step
    assert_close(_all_weights(resumed), _all_weights(straight), rtol=0, atol=1e-6)
    assert [m.train_loss for m in resumed.history] == pytest.approx(
        [m.train_loss for m in straight.history], abs=1e-6
    )


def test_budget_stop_inside_an_epoch_resumes_exactly(tmp_path):
    data = _dataset(48)
    straight = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1))
    straight.fit()

    cut = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1, max_minutes=1e-9),
                  out_dir=tmp_path)  # fmt: skip
    result = cut.fit()
    assert result.stopped_by_budget and result.epochs_done == 0 and cut.batch_in_epoch == 1
    # the saved run's budget is that session's: a resume without one runs to the end
    resumed = Trainer.from_state(tmp_path / "state.pt", data)
    assert resumed.config.max_minutes is None
    resumed.fit()
    assert resumed.epoch == 1 and resumed.step == straight.step
    again = Trainer.from_state(tmp_path / "state.pt", data, max_minutes=5)
    assert again.config.max_minutes == 5
    assert_close(_all_weights(resumed), _all_weights(straight), rtol=0, atol=1e-6)


def test_should_stop_saves_at_the_next_step_and_resumes_exactly(tmp_path):
    data = _dataset(48)
    straight = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1))
    straight.fit()

    calls = []
    cut = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1), out_dir=tmp_path,
                  should_stop=lambda: calls.append(1) or len(calls) > 2)  # fmt: skip
    result = cut.fit()
    assert result.stopped_by_request and not result.stopped_by_budget
    assert cut.step == 2 and load_state(tmp_path / "state.pt")["step"] == 2
    resumed = Trainer.from_state(tmp_path / "state.pt", data)
    resumed.fit()
    assert resumed.epoch == 1 and resumed.step == straight.step
    assert_close(_all_weights(resumed), _all_weights(straight), rtol=0, atol=1e-6)


def test_callback_can_stop_the_run():
    seen = []
    trainer = Trainer(_model(), _dataset(32), NORM, TARGETS, _config(epochs=5),
                      callback=lambda m: seen.append(m.epoch) or len(seen) < 2)  # fmt: skip
    result = trainer.fit()
    assert seen == [1, 2] and result.epochs_done == 2 and not result.stopped_by_budget


def test_learning_rate_warms_up_then_decays():
    trainer = Trainer(_model(), _dataset(64), NORM, TARGETS,
                      _config(warmup_epochs=1.0, lr_decay=0.5))  # fmt: skip
    spe = trainer.steps_per_epoch
    f = [trainer._lr_factor(s) for s in range(3 * spe)]
    assert f[0] == pytest.approx(1 / spe) and f[spe - 1] == pytest.approx(1.0)
    assert f[2 * spe] == pytest.approx(0.5 ** ((2 * spe - spe) / spe))
    assert all(a <= b for a, b in zip(f[:spe], f[1:spe]))


def test_cosine_schedule_restarts_at_a_saved_step(tmp_path):
    data = _dataset(64)
    first = Trainer(_model(), data, NORM, TARGETS, _config(epochs=1), out_dir=tmp_path)
    first.fit()
    spe = first.steps_per_epoch
    resumed = Trainer.from_state(tmp_path / "state.pt", data, restart_schedule=True,
                                 schedule="cosine", lr=1e-3, epochs=4,
                                 warmup_epochs=1.0)  # fmt: skip
    cfg = resumed.config
    assert cfg.schedule_start == first.step == spe and cfg.lr == 1e-3
    f = [resumed._lr_factor(s) for s in range(spe, 4 * spe)]
    assert f[0] == pytest.approx(1 / spe) and f[spe - 1] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[spe - 1 :], f[spe:]))  # decays after the warm-up
    assert f[-1] == pytest.approx(cfg.min_lr_factor, rel=0.2)
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * f[0])
    resumed.fit()
    assert resumed.epoch == 4 and resumed.optimizer.param_groups[0]["lr"] < 1e-4


def test_ema_is_the_decayed_average_of_the_weights():
    """shadow = d shadow + (1 - d) weight per update, d warming up as (1+n)/(10+n)."""
    from pamnet.ema import EMA
    from pamnet.testing import tiny_model

    model = tiny_model().double()
    ema = EMA(model, decay=0.9)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for n in range(1, 4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ema.update(model)
        d = min(0.9, (1 + n) / (10 + n))
        for k, v in model.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    for k, v in ema.shadow.items():
        torch.testing.assert_close(v, expected[k], rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(
    not any(shutil.which(c) for c in ("g++", "c++", "clang++")), reason="no C++ compiler"
)
def test_compiled_training_matches_eager():
    """`TrainConfig(compile=True)`: the same training loss and gradients as eager (float32;
    the compiler reorders sums, so not bit for bit). One batch: compiling is slow."""
    data, idx = _dataset(16), torch.arange(16)
    grads = {}
    for flag in (False, True):
        trainer = Trainer(_model(), data, NORM, TARGETS, _config(compile=flag))
        loss = trainer._batch_loss(idx)
        loss.backward()
        grads[flag] = (float(loss), [p.grad.clone() for p in trainer.model.parameters()])
    assert grads[True][0] == pytest.approx(grads[False][0], rel=1e-5)
    for got, want in zip(grads[True][1], grads[False][1], strict=True):
        assert_close(got, want, atol=1e-5 * float(want.abs().max()) + 1e-7, rtol=1e-4)


def test_compile_without_a_compiler_says_what_to_do(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="needs a C\\+\\+ compiler on PATH"):
        Trainer(_model(), _dataset(8), NORM, TARGETS, _config(compile=True))
