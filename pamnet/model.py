"""PAMNet: a global (distance-only) and a local (angle-aware) message-passing
layer per block, fused per atom by learned attention.

Zhang, Liu & Xie, "A universal framework for accurate and efficient geometric
deep learning of molecular systems", Sci. Rep. 13:19171 (2023).

Per block l = 1..L: h <- GlobalLayer(h) on the global graph (distances within
cutoff_g), then h <- LocalLayer(h) on the local graph (cutoff_l; distances, one-hop
and, for PAMNet, two-hop angles); each layer emits per-atom outputs out [N, T] and
scores s [N, 1] (see pamnet.nn.layers). Fusion and readout:

    alpha_{l,i} = softmax over {global, local} of LeakyReLU_0.2(s_{l,i})      [L, N, 2]
    y_{l,i} = alpha_{l,i,glob} out^glob_{l,i} + alpha_{l,i,loc} out^loc_{l,i}  [L, N, T]
    y_G = Σ_{i in G} w_i Σ_l y_{l,i}                                          [G, T]

w_i is the task's readout weight: the atom's sign (±1 per part of a complex, else 1),
divided by the structure's atom count for a task that reads out a mean.

Not the paper's, and off unless `config.dipole_target` = k: target k is read out as a
dipole magnitude. Its fused outputs are atomic charges q_i = Σ_l y_{l,i,k}, and
    y_{G,k} = |d_G|,  d_G = Σ_{i in G} q_i (r_i − r̄_G)   (r̄_G: the centroid)
which is exactly Σ_l Σ_i Σ_side y_{l,i,side,k} (r_i − r̄_G)·d̂_G, so contributions and
their global/local split keep adding up to the prediction. A total charge drops out
(Σ_i (r_i − r̄_G) = 0): the charges are neutral in effect.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pamnet import geometry
from pamnet.config import ModelConfig
from pamnet.data import Batch
from pamnet.nn.basis import BesselBasis, SphericalBasis
from pamnet.nn.layers import GlobalLayer, LocalLayer, mlp, reset_mlp, scatter_sum
from pamnet.tasks import Graphs, Task, task_for


class PAMNetOutput(NamedTuple):
    """prediction [G, T]; attention [L, N, 2] softmax weights (global, local);
    contributions [L, N, T]: atom a's share through block l, summing to prediction;
    channels [L, N, 2, T]: that share split exactly into its part through the global
    (non-local) layer and its part through the local layer (summing over dim 2 to
    contributions), returned with the contributions; latent [G, dim]: the mean of each
    structure's final atom states (not part of the paper's model: what
    `pamnet.uncertainty` measures the distance to the training data in)."""

    prediction: Tensor
    attention: Tensor | None = None
    contributions: Tensor | None = None
    channels: Tensor | None = None
    latent: Tensor | None = None


class AngleTerms(NamedTuple):
    """Angle terms of the local layer: edge `nb` feeds edge `tgt` through basis `sbf`."""

    nb: Tensor  # [A]
    tgt: Tensor  # [A]
    sbf: Tensor  # [A, dim]


class PAMNet(nn.Module):
    """PAMNet and its lighter PAMNet_s variant (one-hop angles only).

    forward(batch) -> PAMNetOutput. The task (graph builder + readout) comes
    from `config.task` unless given.
    """

    def __init__(self, config: ModelConfig, task: Task | None = None):
        super().__init__()
        self.config = config
        self.task = task or task_for(config)
        c = config
        if c.uses_atom_types:
            self.embeddings = nn.Parameter(torch.empty(c.num_atom_types, c.dim))
        else:
            self.init_linear = nn.Linear(c.atom_feat_dim, c.dim, bias=False)
        self.rbf_g = BesselBasis(c.num_rbf, c.cutoff_g, c.envelope_exponent)
        self.rbf_l = BesselBasis(c.num_rbf, c.cutoff_l, c.envelope_exponent)
        self.sbf = SphericalBasis(c.num_spherical, c.num_radial, c.cutoff_l, c.envelope_exponent)
        n_sbf = c.num_spherical * c.num_radial
        self.mlp_rbf_g = mlp(c.num_rbf, c.dim)
        self.mlp_rbf_l = mlp(c.num_rbf, c.dim)
        self.mlp_sbf1 = mlp(n_sbf, c.dim)  # one-hop angles
        self.two_hop = c.variant == "PAMNet"
        if self.two_hop:
            self.mlp_sbf2 = mlp(n_sbf, c.dim)  # two-hop angles
        self.global_layer = nn.ModuleList(
            GlobalLayer(c.dim, c.num_targets, c.flow) for _ in range(c.n_layer)
        )
        self.local_layer = nn.ModuleList(LocalLayer(c.dim, c.num_targets) for _ in range(c.n_layer))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.config.uses_atom_types:
            bound = math.sqrt(3.0)  # unit-variance uniform
            nn.init.uniform_(self.embeddings, -bound, bound)
        else:
            self.init_linear.reset_parameters()
        self.rbf_g.reset_parameters()
        self.rbf_l.reset_parameters()
        for m in [self.mlp_rbf_g, self.mlp_rbf_l, self.mlp_sbf1] + (
            [self.mlp_sbf2] if self.two_hop else []
        ):
            reset_mlp(m)
        for layer in [*self.global_layer, *self.local_layer]:
            layer.reset_parameters()

    def atom_input(self, batch: Batch) -> Tensor:
        """Initial atom features [N, dim]."""
        if self.config.uses_atom_types:
            return self.embeddings[batch.atom_type]
        return self.init_linear(batch.atom_feat)

    def angle_terms(self, pos: Tensor, g: Graphs, num_nodes: int) -> AngleTerms:
        """Angle bases of the local graph, embedded to [A, dim] (two-hop first)."""
        pairs = geometry.one_hop(g.edge_l, num_nodes)
        radial = self.sbf.radial(g.dist_l)  # [El, S*R], shared by both angle kinds
        angle1 = geometry.one_hop_angles(pos, pairs)
        sbf1 = self.mlp_sbf1(self.sbf(g.dist_l, angle1, pairs.idx_jj, radial))
        if not self.two_hop:
            return AngleTerms(pairs.idx_jj, pairs.idx_ji, sbf1)
        paths = geometry.two_hop(g.edge_l, num_nodes)
        angle2 = geometry.two_hop_angles(pos, paths)
        sbf2 = self.mlp_sbf2(self.sbf(g.dist_l, angle2, paths.idx_kj, radial))
        return AngleTerms(
            torch.cat([paths.idx_kj, pairs.idx_jj]),
            torch.cat([paths.idx_ji, pairs.idx_ji]),
            torch.cat([sbf2, sbf1]),
        )

    def forward(
        self,
        batch: Batch,
        return_attention: bool = False,
        return_contributions: bool = False,
        graphs: Graphs | None = None,
        return_latent: bool = False,
    ) -> PAMNetOutput:
        c = self.config
        pos, n = batch.pos, batch.num_atoms
        g = graphs if graphs is not None else self.task.build_graphs(batch, c.cutoff_l, c.cutoff_g)
        if graphs is not None:  # distances must carry gradients w.r.t. pos
            g = g._replace(
                dist_g=geometry.edge_distances(g.edge_g, pos),
                dist_l=geometry.edge_distances(g.edge_l, pos),
            )
        angles = self.angle_terms(pos, g, n)
        dist_g = g.dist_g[: g.dist_g.shape[0] // 2] if g.sym_g else g.dist_g
        rbf_g = self.mlp_rbf_g(self.rbf_g(dist_g))  # [Eg, dim] ([Eg / 2, dim] if sym_g)
        rbf_l = self.mlp_rbf_l(self.rbf_l(g.dist_l))  # [El, dim]

        x = self.atom_input(batch)
        outs, scores = [], []
        for glob, loc in zip(self.global_layer, self.local_layer):
            x, out_g, s_g = glob(x, rbf_g, g.edge_g, g.sym_g)
            x, out_l, s_l = loc(x, rbf_l, angles.sbf, angles.nb, angles.tgt, g.edge_l)
            outs.append(torch.stack([out_g, out_l], 1))  # [N, 2, T]
            scores.append(torch.cat([s_g, s_l], 1))  # [N, 2]

        # Fusion: per block and atom, softmax over (global, local) of leaky scores.
        att = torch.softmax(F.leaky_relu(torch.stack(scores), 0.2), dim=-1)  # [L, N, 2]
        weighted = torch.stack(outs) * att.unsqueeze(-1)  # [L, N, 2, T]
        if c.dipole_target is not None:
            weighted = self._dipole(weighted, pos, batch)
        fused = weighted.sum(2)  # [L, N, T]
        w = self.task.readout_weights(batch).to(fused.dtype)  # [N]
        contrib = fused * w[None, :, None]
        pred = scatter_sum(contrib.sum(0), batch.graph, batch.num_graphs)  # [G, T]
        latent = None
        if return_latent:
            size = scatter_sum(torch.ones_like(x[:, :1]), batch.graph, batch.num_graphs)
            latent = scatter_sum(x, batch.graph, batch.num_graphs) / size.clamp(min=1)
        return PAMNetOutput(
            prediction=pred,
            attention=att if return_attention else None,
            contributions=contrib if return_contributions else None,
            channels=weighted * w[None, :, None, None] if return_contributions else None,
            latent=latent,
        )

    def _dipole(self, weighted: Tensor, pos: Tensor, batch: Batch) -> Tensor:
        """`weighted` [L, N, 2, T] with target k's charges q turned into their shares of
        |d|: q (r_i − r̄)·d̂ per block, atom and side (module docstring)."""
        k, g, n_graphs = self.config.dipole_target, batch.graph, batch.num_graphs
        count = scatter_sum(torch.ones_like(pos[:, :1]), g, n_graphs)  # [G, 1]
        rel = pos - (scatter_sum(pos, g, n_graphs) / count.clamp(min=1))[g]  # [N, 3]
        q = weighted[..., k]  # [L, N, 2]
        d = scatter_sum(q.sum((0, 2))[:, None] * rel, g, n_graphs)  # [G, 3]
        d_hat = d / d.norm(dim=1, keepdim=True).clamp(min=1e-12)
        proj = (rel * d_hat[g]).sum(1)  # [N]
        out = weighted.clone()
        out[..., k] = q * proj[None, :, None]
        return out
