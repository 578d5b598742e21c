"""Model properties: invariances, gradients, batching, fusion outputs, checkpoints."""

import io

import pytest
import torch

from pamnet.checkpoint import Normalization, load_checkpoint, save_checkpoint
from pamnet.data import GraphInput, collate
from pamnet.errors import CheckpointError
from pamnet.testing import assert_invariant, random_molecule, tiny_model


def _complex(seed=0, n=40):
    g = torch.Generator().manual_seed(seed)
    pos = torch.rand(n, 3, generator=g) * 8
    part = torch.zeros(n, dtype=torch.long)
    lig = torch.arange(n) < 10
    # complex = all atoms; pocket and ligand copies as parts 1 and 2
    pos3 = torch.cat([pos, pos[~lig], pos[lig]])
    part3 = torch.cat([part, part[~lig] + 1, part[lig] + 2])
    sign = torch.cat([torch.ones(n), -torch.ones(int((~lig).sum()) + int(lig.sum()))])
    feat = torch.rand(len(pos3), 18, generator=g)
    return GraphInput(pos=pos3, atom_feat=feat, part=part3, sign=sign, name="cx")


@pytest.mark.parametrize("variant", ["PAMNet", "PAMNet_s"])
def test_molecule_invariances(variant):
    assert_invariant(tiny_model(variant=variant), random_molecule(15, seed=3), atol=2e-4)
    mol = random_molecule(15, seed=3, dtype=torch.float64)
    assert_invariant(tiny_model(variant=variant).double(), mol, atol=1e-9)


def test_complex_and_rna_invariances():
    cx = _complex()
    cx.pos, cx.atom_feat, cx.sign = cx.pos.double(), cx.atom_feat.double(), cx.sign.double()
    assert_invariant(tiny_model("complex").double(), cx, atol=1e-9)
    rna = random_molecule(30, seed=4, num_types=3, dtype=torch.float64)
    assert_invariant(
        tiny_model("rna").double(), GraphInput(pos=rna.pos, atom_type=rna.atom_type), atol=1e-9
    )


def test_batched_equals_one_by_one():
    model = tiny_model()
    mols = [random_molecule(n, seed=n) for n in (5, 12, 1, 20)]
    with torch.no_grad():
        batched = model(collate(mols), return_attention=True)
        for g, m in enumerate(mols):
            single = model(collate([m]), return_attention=True)
            torch.testing.assert_close(
                batched.prediction[g], single.prediction[0], atol=1e-5, rtol=0
            )
            mask = collate(mols).graph == g
            torch.testing.assert_close(
                batched.attention[:, mask], single.attention, atol=1e-5, rtol=0
            )


@pytest.mark.parametrize("task", ["molecule", "complex"])
def test_symmetric_global_graph_equals_the_same_edges_in_any_order(task):
    """sym_g (each pair's distance features computed once) changes no number: the
    same edges shuffled and flagged non-symmetric give the same outputs."""
    model = tiny_model(task).double()
    if task == "molecule":
        items = [random_molecule(n, seed=n, dtype=torch.float64) for n in (7, 15)]
    else:
        items = [
            GraphInput(pos=random_molecule(25, seed=s, dtype=torch.float64).pos,
                       atom_feat=torch.rand(25, 18, dtype=torch.float64))
            for s in (1, 2)
        ]  # fmt: skip
    batch = collate(items)
    g = model.task.build_graphs(batch, model.config.cutoff_l, model.config.cutoff_g)
    assert g.sym_g
    perm = torch.randperm(g.edge_g.shape[1], generator=torch.Generator().manual_seed(0))
    plain = g._replace(edge_g=g.edge_g[:, perm], dist_g=g.dist_g[perm], sym_g=False)
    with torch.no_grad():
        a = model(batch, return_attention=True, graphs=g)
        b = model(batch, return_attention=True, graphs=plain)
    torch.testing.assert_close(a.prediction, b.prediction, atol=1e-10, rtol=0)
    torch.testing.assert_close(a.attention, b.attention, atol=1e-10, rtol=0)


@pytest.mark.parametrize("task", ["complex", "rna"])
def test_complex_and_rna_batched_equal_one_by_one(task):
    model = tiny_model(task).double()
    if task == "complex":
        items = [_complex(seed=s) for s in (1, 2, 3)]
        for it in items:
            it.pos, it.atom_feat, it.sign = it.pos.double(), it.atom_feat.double(), it.sign.double()
    else:
        mols = [random_molecule(n, seed=n, num_types=3, dtype=torch.float64) for n in (30, 9, 60)]
        items = [GraphInput(pos=m.pos, atom_type=m.atom_type) for m in mols]
    with torch.no_grad():
        batched = model(collate(items)).prediction
        single = torch.cat([model(collate([it])).prediction for it in items])
    torch.testing.assert_close(batched, single, atol=1e-9, rtol=0)


def test_contributions_sum_to_prediction_and_attention_rows_sum_to_one():
    for model, inp in [
        (tiny_model(num_targets=3).double(), random_molecule(12, dtype=torch.float64)),
        (tiny_model("complex").double(), _complex()),
    ]:
        b = collate([inp, inp])
        b = b.to("cpu", torch.float64)
        out = model(b, return_attention=True, return_contributions=True)
        L, N = model.config.n_layer, b.num_atoms
        assert out.attention.shape == (L, N, 2)
        assert out.contributions.shape == (L, N, model.config.num_targets)
        torch.testing.assert_close(out.attention.sum(-1), torch.ones(L, N, dtype=torch.float64))
        per_graph = torch.zeros_like(out.prediction).index_add_(
            0, b.graph, out.contributions.sum(0)
        )
        torch.testing.assert_close(per_graph, out.prediction, atol=1e-10, rtol=0)


def test_rna_mean_readout_contributions():
    model = tiny_model("rna").double()
    m = random_molecule(20, seed=5, num_types=3, dtype=torch.float64)
    b = collate([GraphInput(pos=m.pos, atom_type=m.atom_type)])
    out = model(b, return_contributions=True)
    torch.testing.assert_close(out.contributions.sum((0, 1)), out.prediction[0], atol=1e-10, rtol=0)


def test_gradcheck_float64():
    model = tiny_model().double()
    mol = random_molecule(6, seed=7, dtype=torch.float64)
    base = collate([mol])

    def f(pos):
        b = collate([GraphInput(pos=pos, atom_type=mol.atom_type, bond_index=mol.bond_index)])
        return model(b).prediction

    pos = base.pos.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (pos,), eps=1e-6, atol=1e-5)


def test_forces_are_minus_gradient_and_sum_to_zero():
    model = tiny_model().double()
    mol = random_molecule(10, seed=8, dtype=torch.float64)
    pos = mol.pos.clone().requires_grad_(True)
    e = model(
        collate([GraphInput(pos=pos, atom_type=mol.atom_type, bond_index=mol.bond_index)])
    ).prediction.sum()
    (grad,) = torch.autograd.grad(e, pos)
    torch.testing.assert_close(grad.sum(0), torch.zeros(3, dtype=torch.float64), atol=1e-8, rtol=0)


def test_empty_structure_and_single_atom():
    model = tiny_model()
    one = GraphInput(
        pos=torch.zeros(1, 3),
        atom_type=torch.tensor([1]),
        bond_index=torch.empty(2, 0, dtype=torch.long),
    )
    out = model(collate([one]), return_attention=True)
    assert out.prediction.shape == (1, 1) and torch.isfinite(out.prediction).all()
    empty = GraphInput(
        pos=torch.zeros(0, 3),
        atom_type=torch.zeros(0, dtype=torch.long),
        bond_index=torch.empty(2, 0, dtype=torch.long),
    )
    out = model(collate([empty, one]), return_attention=True, return_contributions=True)
    assert out.prediction.shape == (2, 1) and out.prediction[0, 0] == 0.0  # nothing to sum
    assert out.attention.shape == (2, 1, 2) and out.contributions.shape == (2, 1, 1)


def test_checkpoint_round_trip(tmp_path):
    model = tiny_model(num_targets=2)
    norm = Normalization(mean=[1.0, 2.0], std=[0.5, 3.0], per_atom=[True, False])
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, ["a", "b"], {"a": "eV", "b": "D"}, norm, {"note": "x"})
    loaded = load_checkpoint(path)
    assert loaded.targets == ["a", "b"] and loaded.units["a"] == "eV"
    assert loaded.normalization.std == [0.5, 3.0] and loaded.metadata["note"] == "x"
    b = collate([random_molecule(9)])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(b).prediction, model(b).prediction)


def test_corrupt_and_foreign_checkpoints(tmp_path):
    model = tiny_model()
    buf = io.BytesIO()
    save_checkpoint(buf, model, ["y"])
    data = buf.getvalue()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "trunc.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="convert-official"):
        load_checkpoint(tmp_path / "bare.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="pickled code"):
        load_checkpoint(tmp_path / "evil.pt")


@pytest.mark.cuda
def test_cuda_matches_cpu():
    model = tiny_model()
    b = collate([random_molecule(12), random_molecule(7, seed=1)])
    with torch.no_grad():
        cpu = model(b, return_attention=True)
        gpu = model.cuda()(b.to("cuda"), return_attention=True)
    torch.testing.assert_close(gpu.prediction.cpu(), cpu.prediction, atol=1e-4, rtol=0)
    torch.testing.assert_close(gpu.attention.cpu(), cpu.attention, atol=1e-4, rtol=0)


def test_smaller_basis_sizes_are_slices_of_the_precomputed_forms():
    from pamnet.nn.basis import _basis_functions
    from pamnet.nn.make_sbf_forms import generate

    derived: dict = {}
    exec(compile(generate(3, 2), "<forms>", "exec"), derived)  # our own generated code
    radial, angular = _basis_functions(3, 2)
    x = torch.linspace(0.05, 1.0, 100, dtype=torch.float64)
    for ours, ref in zip(radial, derived["RADIAL"], strict=True):
        torch.testing.assert_close(ours(x), ref(x), atol=0, rtol=0)
    for ours, ref in zip(angular, derived["ANGULAR"], strict=True):
        torch.testing.assert_close(ours(x), ref(x), atol=0, rtol=0)


def test_metadata_is_stored_as_plain_data(tmp_path):
    import numpy as np

    model = tiny_model()
    meta = {"torch": torch.__version__, "path": tmp_path, "x": np.float32(1.5), "v": np.arange(2)}
    save_checkpoint(tmp_path / "m.pt", model, ["y"], metadata=meta)
    loaded = load_checkpoint(tmp_path / "m.pt")  # weights_only=True
    assert loaded.metadata == {
        "torch": str(torch.__version__),
        "path": str(tmp_path),
        "x": 1.5,
        "v": [0, 1],
    }


def _channels(model, inp):
    from pamnet import inference

    batch = collate([inp])
    t = model.config.num_targets
    norm = Normalization([0.7] * t, [2.5] * t, [False] * t, [[0.1 * k] * t for k in range(5)])
    return inference.run(model, batch, norm, attention=True, contributions=True)


@pytest.mark.parametrize("variant", ["PAMNet", "PAMNet_s"])
def test_global_and_local_parts_add_up_to_each_contribution_and_to_the_prediction(variant):
    from pamnet.testing import random_rotation

    model = tiny_model(variant=variant).double()
    mol = random_molecule(12, seed=5, dtype=torch.float64)
    out = _channels(model, mol)
    L, n, two, t = out.channels.shape
    assert (L, n, two, t) == (model.config.n_layer, 12, 2, model.config.num_targets)
    learned = out.contributions - out.offset[None] / L  # the part that went through layers
    torch.testing.assert_close(out.channels.sum(2), learned, rtol=0, atol=1e-6)
    total = out.channels.sum((0, 1, 2)) + out.offset.sum(0)
    torch.testing.assert_close(total, out.values[0], rtol=0, atol=1e-6)
    # both channels carry something (a split that sent everything one way would pass above)
    assert out.channels[:, :, 0].abs().sum() > 0 and out.channels[:, :, 1].abs().sum() > 0
    # invariant under rotation and translation, and permuted with the atoms
    rot = random_rotation(torch.Generator().manual_seed(1))
    moved = GraphInput(
        pos=mol.pos @ rot.T + 3.0, atom_type=mol.atom_type, bond_index=mol.bond_index
    )
    torch.testing.assert_close(_channels(model, moved).channels, out.channels, rtol=0, atol=1e-8)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(2))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(12)
    shuffled = GraphInput(
        pos=mol.pos[perm], atom_type=mol.atom_type[perm], bond_index=inv[mol.bond_index]
    )
    torch.testing.assert_close(
        _channels(model, shuffled).channels, out.channels[:, perm], rtol=0, atol=1e-8
    )
