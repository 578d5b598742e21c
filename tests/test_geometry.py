"""Graph construction against brute force."""

import pytest
import torch

from pamnet import geometry
from pamnet.testing import brute_radius_pairs, random_molecule


def _pairs(edge):
    return {tuple(p) for p in edge.T.tolist()}


@pytest.mark.parametrize(
    "n,r,parts", [(0, 2.0, 1), (1, 2.0, 1), (2, 0.5, 1), (50, 3.0, 1), (300, 4.0, 5), (400, 1.5, 3)]
)
def test_radius_graph_matches_brute_force(n, r, parts):
    g = torch.Generator().manual_seed(n)
    pos = torch.rand(n, 3, generator=g) * 12 - 6
    batch = torch.randint(0, parts, (n,), generator=g).sort().values
    edge = geometry.radius_graph(pos, r, batch)
    assert edge.dtype == torch.long and edge.shape[0] == 2
    assert _pairs(edge) == brute_radius_pairs(pos, r, batch)
    assert len(_pairs(edge)) == edge.shape[1]  # no duplicates


@pytest.mark.parametrize("n,parts", [(0, 1), (1, 1), (120, 3)])
def test_radius_pairs_are_the_radius_graph_once(n, parts):
    g = torch.Generator().manual_seed(n)
    pos = torch.rand(n, 3, generator=g) * 8
    batch = torch.randint(0, parts, (n,), generator=g).sort().values
    pairs = geometry.radius_pairs(pos, 3.0, batch)
    assert (pairs[0] < pairs[1]).all() and len(_pairs(pairs)) == pairs.shape[1]
    both = torch.cat([pairs, pairs.flip(0)], 1)
    assert _pairs(both) == brute_radius_pairs(pos, 3.0, batch)


def test_radius_graph_real_molecule_and_disconnected_parts():
    a = random_molecule(30, seed=1).pos
    b = random_molecule(20, seed=2).pos + 100.0  # far away: no edges between them
    pos = torch.cat([a, b])
    edge = geometry.radius_graph(pos, 5.0)
    assert _pairs(edge) == brute_radius_pairs(pos, 5.0)
    assert not ((edge[0] < 30) ^ (edge[1] < 30)).any()


def test_radius_between_sets():
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(80, 3, generator=g) * 5, torch.rand(40, 3, generator=g) * 5
    e = geometry.radius(x, y, 1.2)
    d = torch.cdist(y.double(), x.double())
    assert _pairs(e) == {tuple(p) for p in (d <= 1.2).nonzero().tolist()}


@pytest.mark.parametrize("n,k,parts", [(1, 5, 1), (10, 50, 1), (200, 8, 1), (500, 20, 4)])
def test_knn_matches_brute_force(n, k, parts):
    g = torch.Generator().manual_seed(n + k)
    pos = torch.rand(n, 3, generator=g) * 20
    batch = torch.randint(0, parts, (n,), generator=g).sort().values
    edge = geometry.knn_graph(pos, k, batch)
    d = torch.cdist(pos.double(), pos.double())
    d[batch[:, None] != batch[None, :]] = float("inf")
    want = set()
    for i in range(n):
        kk = min(k, int((batch == batch[i]).sum()))
        for j in d[i].topk(kk, largest=False).indices.tolist():
            want.add((i, j))
    assert _pairs(edge) == want
    assert (edge[0] == edge[1]).sum() == n  # self included, as the official knn


def _assert_knn(edge, d, k, tol=1e-5):
    """edge holds, per atom, k neighbours that are a k-nearest set under distances d [N, N]
    (Å): any choice among atoms tied at the k-th distance passes."""
    for i in range(d.shape[0]):
        got = edge[1][edge[0] == i]
        kth = d[i].kthvalue(k).values
        assert got.numel() == k and (d[i, got] <= kth + tol).all()
        assert set((d[i] < kth - tol).nonzero().flatten().tolist()) <= set(got.tolist())


def test_knn_and_radius_on_a_real_structure_and_empty_input():
    from pamnet.examples import load_example

    s = load_example("rna")[0]  # a real-shaped nucleic acid, ~160 heavy atoms
    pos = torch.tensor(s.coords, dtype=torch.float32)
    d = torch.cdist(pos.double(), pos.double())
    _assert_knn(geometry.knn_graph(pos, 16), d, 16)  # 3-decimal coordinates: ties possible
    assert _pairs(geometry.radius_graph(pos, 4.0)) == brute_radius_pairs(pos, 4.0)
    empty = torch.zeros(0, 3)
    assert geometry.knn_graph(empty, 5).shape == (2, 0)
    assert geometry.radius_pairs(empty, 5.0).shape == (2, 0)


def test_knn_clustered_density():
    # A dense blob plus sparse outliers: the first radius guess fits neither.
    g = torch.Generator().manual_seed(0)
    pos = torch.cat([torch.randn(300, 3, generator=g), torch.rand(30, 3, generator=g) * 200])
    edge = geometry.knn_graph(pos, 12)
    assert torch.bincount(edge[0], minlength=330).eq(12).all()
    d = torch.cdist(pos.double(), pos.double())
    for i in (0, 305, 329):
        assert set(edge[1][edge[0] == i].tolist()) == set(
            d[i].topk(12, largest=False).indices.tolist()
        )


def _brute_two_hop(edge):
    e = edge.T.tolist()
    out = set()
    for a, (j, i) in enumerate(e):
        for b, (k, j2) in enumerate(e):
            if j2 == j and k != i:
                out.add((a, b))
    return out


def _brute_one_hop(edge):
    e = edge.T.tolist()
    return {
        (a, b) for a, (_, i) in enumerate(e) for b, (j2, i2) in enumerate(e) if i2 == i and j2 != i
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplets_and_pairs_match_brute_force(seed):
    mol = random_molecule(25, seed=seed)
    edge = geometry.radius_graph(mol.pos, 2.5)
    n = mol.num_atoms
    t = geometry.two_hop(edge, n)
    assert set(zip(t.idx_ji.tolist(), t.idx_kj.tolist())) == _brute_two_hop(edge)
    assert (edge[1][t.idx_ji] == t.idx_i).all() and (edge[0][t.idx_kj] == t.idx_k).all()
    assert (edge[1][t.idx_kj] == t.idx_j).all()
    p = geometry.one_hop(edge, n)
    assert set(zip(p.idx_ji.tolist(), p.idx_jj.tolist())) == _brute_one_hop(edge)


def test_triplets_empty_and_single():
    empty = torch.empty(2, 0, dtype=torch.long)
    assert geometry.two_hop(empty, 3).idx_i.numel() == 0
    assert geometry.one_hop(empty, 0).idx_i.numel() == 0
    one = torch.tensor([[0], [1]])
    assert geometry.two_hop(one, 2).idx_i.numel() == 0
    assert geometry.one_hop(one, 2).idx_i.numel() == 1  # the edge with itself


def test_angles():
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [1.0, 1.0, 0]])
    edge = torch.tensor([[1, 2], [0, 1]])  # 1->0, 2->1
    t = geometry.two_hop(edge, 3)
    ang = geometry.two_hop_angles(pos, t)
    assert ang.shape == (1,)
    torch.testing.assert_close(ang, torch.tensor([torch.pi / 2]))


@pytest.mark.cuda
def test_cuda_graphs_match_cpu():
    pos = torch.rand(500, 3) * 15
    cpu = _pairs(geometry.radius_graph(pos, 3.0))
    gpu = _pairs(geometry.radius_graph(pos.cuda(), 3.0).cpu())
    assert cpu == gpu
    assert _pairs(geometry.knn_graph(pos, 10)) == _pairs(geometry.knn_graph(pos.cuda(), 10).cpu())
