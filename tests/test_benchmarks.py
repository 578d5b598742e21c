"""The benchmarks' own measuring helpers count what they claim to count."""

import torch

from benchmarks.measure import matmul_flops


def test_matmul_flops_counts_every_product_form():
    a, b = torch.randn(10, 8), torch.randn(8, 6)
    c, bias = torch.randn(10, 6), torch.randn(6)
    one = 2 * 10 * 8 * 6

    def work():
        a @ b  # mm
        torch.nn.functional.linear(a, b.T, bias)  # addmm
        c.addmm_(a, b)  # in place: skipped by torch's FlopCounterMode
        torch.bmm(a.expand(3, 10, 8), b.expand(3, 8, 6))  # 3 products
        a + 1  # not a matmul

    assert matmul_flops(work) == 6 * one


def test_matmul_flops_of_the_model_match_its_layer_shapes():
    from pamnet.config import ModelConfig
    from pamnet.data import collate
    from pamnet.model import PAMNet
    from pamnet.testing import random_molecule

    torch.manual_seed(0)
    cfg = ModelConfig(task="molecule", dim=16, n_layer=2, num_atom_types=5)
    model = PAMNet(cfg).eval()
    batch = collate([random_molecule(12, seed=1)])
    with torch.no_grad():
        flops = matmul_flops(lambda: model(batch))
        # a model with twice the width does about 4x the matmul work on the same input
        wide = PAMNet(ModelConfig(task="molecule", dim=32, n_layer=2, num_atom_types=5)).eval()
        ratio = matmul_flops(lambda: wide(batch)) / flops
    assert flops > 0
    assert 3.0 < ratio < 4.0  # the basis-to-dim layers grow only 2x


def test_the_freesolv_split_is_fixed_disjoint_and_80_10_10():
    import pandas as pd

    from benchmarks import freesolv

    df = pd.DataFrame({"smiles": [f"C{'C' * k}O" for k in range(642)], "expt": range(642)})
    a, b = freesolv.split(df), freesolv.split(df)
    assert (a.split == b.split).all()  # the same seed, the same split
    assert a.split.value_counts().to_dict() == {"train": 513, "test": 65, "val": 64}
    assert not (a.split == freesolv.split(df, seed=1).split).all()


def test_freesolv_reader_takes_the_database_format(tmp_path):
    from benchmarks import freesolv

    path = tmp_path / "database.txt"
    path.write_text("#Hydration free energy database\n#fields...\n"
                    "mobley_1; CCCCO; butan-1-ol; -4.72; 0.60; -3.23; 0.03; ref; ref; note\n")  # fmt: skip
    df = freesolv.load(path)
    assert df.to_dict("records") == [{"name": "mobley_1", "smiles": "CCCCO", "expt": -4.72}]


def test_baseline_layers_compute_what_the_model_computes(monkeypatch):
    """The same-process baselines differ from the model only in the order of operations:
    same outputs and the same gradients, over several CPU chunks of edges and angles."""
    from benchmarks.baselines import naive_layers, sliced_layers
    from pamnet.config import ModelConfig
    from pamnet.data import collate
    from pamnet.model import PAMNet
    from pamnet.nn import layers
    from pamnet.testing import random_molecule

    monkeypatch.setattr(layers, "CPU_CHUNK", 50)  # several chunks, uneven last one
    torch.manual_seed(0)
    model = PAMNet(ModelConfig(dim=16, n_layer=2, num_targets=2)).double()
    batch = collate(
        [
            random_molecule(60, seed=1, dtype=torch.float64),
            random_molecule(9, seed=2, dtype=torch.float64),
        ]
    )

    def run():
        model.zero_grad()
        out = model(batch).prediction
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    out, grads = run()
    for swap in (naive_layers, sliced_layers):
        with swap(model):
            other, other_grads = run()
        torch.testing.assert_close(other, out, rtol=1e-9, atol=1e-9)
        for g, h in zip(other_grads, grads):
            torch.testing.assert_close(g, h, rtol=1e-8, atol=1e-9)
