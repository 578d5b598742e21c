"""Physics-aware heads vs the scalar readout on a shipped QM9 trunk, same features, same budget.

    python benchmarks/ablate_heads.py [--checkpoint checkpoints/qm9_pamnet.pt]
        [--train 40000] [--val 5000] [--epochs 60] [--threads 1]

The trunk is frozen. For each of the 2L layers (global and local per block) the atom
features h = MLP_out(h^t) that the paper's readout turns into outputs are cached with
the fusion attention, once. Three heads are then fitted on the same cached features,
with the same parameter count (a weight vector and a bias per layer) and the same
optimiser budget, and compared on held-out QM9 validation molecules:

- scalar: the paper's readout refitted for one target, y = Σ_i Σ_k a_ik (w_k·h_ik + b_k);
- dipole: the same sum gives atomic charges q_i, neutral per molecule, and
  μ = |Σ_i q_i (r_i − r̄)| (e·Å to Debye); never negative, rotation-invariant;
- r2: the same sum through softplus gives positive atomic weights w_i, and
  ⟨R²⟩ = Σ_i w_i |r_i − c|² about their centre c (Å² to a0²).

Also printed: the shipped model's own MAE on the same molecules, and the time of each
part. The split is the checkpoint's documented one (`qm9.split`).
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from pamnet import qm9
from pamnet.checkpoint import load_checkpoint
from pamnet.data import collate
from pamnet.heads import DEBYE_PER_E_ANGSTROM
from pamnet.inference import run

A0_PER_ANGSTROM = 1 / 0.529177


def features(loaded, data, batch_size: int = 128):
    """Per atom: h of every layer [A, 2L, dim], attention [A, 2L], positions [A, 3];
    per molecule: graph index [A], the shipped predictions [n, T]."""
    model = loaded.model.eval()
    captured: list[torch.Tensor] = []
    hooks = []
    for glob, loc in zip(model.global_layer, model.local_layer, strict=True):
        for layer in (glob, loc):
            hooks.append(layer.mlp_out.register_forward_hook(lambda m, i, o: captured.append(o)))
    hs, atts, pos, graph, preds = [], [], [], [], []
    graphs = data.graphs()
    offset = 0
    try:
        for lo in range(0, len(graphs), batch_size):
            batch = collate(graphs[lo : lo + batch_size])
            captured.clear()
            out = run(model, batch, loaded.normalization, attention=True)
            hs.append(torch.stack(captured, 1).half())  # [N, 2L, dim], half: 2x less memory
            atts.append(out.attention.permute(1, 0, 2).reshape(batch.num_atoms, -1))  # [N, 2L]
            pos.append(batch.pos)
            graph.append(batch.graph + offset)
            preds.append(out.values)
            offset += batch.num_graphs
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(hs), torch.cat(atts), torch.cat(pos), torch.cat(graph), torch.cat(preds)


class Head(torch.nn.Module):
    """Per-atom scalar Σ_k a_ik (w_k·h_ik + b_k) read three ways (module docstring)."""

    def __init__(self, n_layers: int, dim: int, kind: str, mean: float, std: float):
        super().__init__()
        self.kind, self.mean, self.std = kind, mean, std
        self.w = torch.nn.Parameter(torch.randn(n_layers, dim) / math.sqrt(dim) * 0.1)
        self.b = torch.nn.Parameter(torch.zeros(n_layers))

    def forward(self, h, att, pos, graph, n):
        s = (att * (torch.einsum("akd,kd->ak", h, self.w) + self.b)).sum(1)  # [A]
        ones = torch.ones_like(s)
        count = torch.zeros(n).index_add_(0, graph, ones)
        if self.kind == "scalar":
            return torch.zeros(n).index_add_(0, graph, s) * self.std + self.mean
        if self.kind == "dipole":
            centre = torch.zeros(n, 3).index_add_(0, graph, pos) / count[:, None]
            vec = torch.zeros(n, 3).index_add_(0, graph, s[:, None] * (pos - centre[graph]))
            return vec.norm(dim=1) * DEBYE_PER_E_ANGSTROM
        w = F.softplus(s)  # r2
        total = torch.zeros(n).index_add_(0, graph, w)
        centre = torch.zeros(n, 3).index_add_(0, graph, w[:, None] * pos) / total[:, None]
        r2 = ((pos - centre[graph]) ** 2).sum(1)
        return torch.zeros(n).index_add_(0, graph, w * r2) * A0_PER_ANGSTROM**2


def fit(head, train, val, y_train, y_val, epochs: int, batch: int = 256, lr: float = 1e-2):
    """Adam with a cosine schedule on molecule minibatches; returns the val MAE per epoch."""
    h, att, pos, graph, atom_ptr = train
    opt = torch.optim.Adam(head.parameters(), lr)
    steps = epochs * math.ceil(len(y_train) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    curve = [evaluate(head, val, y_val)]
    for _ in range(epochs):
        for idx in torch.randperm(len(y_train)).split(batch):
            rows = torch.cat([torch.arange(atom_ptr[i], atom_ptr[i + 1]) for i in idx.tolist()])
            local = torch.repeat_interleave(
                torch.arange(len(idx)), (atom_ptr[idx + 1] - atom_ptr[idx])
            )
            pred = head(h[rows].float(), att[rows], pos[rows], local, len(idx))
            loss = (pred - y_train[idx]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        curve.append(evaluate(head, val, y_val))
    return curve


@torch.no_grad()
def evaluate(head, val, y_val) -> float:
    vh, vatt, vpos, vgraph, _ = val
    return float((head(vh.float(), vatt, vpos, vgraph, len(y_val)) - y_val).abs().mean())


def finetune(loaded, head, target, train_graphs, y_train, val_graphs, y_val, minutes, batch=32):
    """Trunk and head trained together on one target for `minutes` of wall time (Adam,
    lr 1e-4 trunk, 1e-3 head, L1); returns (val MAE before, after, molecules seen)."""
    import copy

    model = copy.deepcopy(loaded.model).train()
    k, norm = loaded.targets.index(target), loaded.normalization
    captured: list[torch.Tensor] = []
    for glob, loc in zip(model.global_layer, model.local_layer, strict=True):
        for layer in (glob, loc):
            layer.mlp_out.register_forward_hook(lambda m, i, o: captured.append(o))

    def predict(batch):
        captured.clear()
        out = model(batch, return_attention=True)
        if head is None:
            return out.prediction[:, k] * norm.std[k] + norm.mean[k]
        att = out.attention.permute(1, 0, 2).reshape(batch.num_atoms, -1)
        return head(torch.stack(captured, 1), att, batch.pos, batch.graph, batch.num_graphs)

    @torch.no_grad()
    def val_mae():
        model.eval()
        err = [
            (predict(collate(val_graphs[i : i + 128])) - y_val[i : i + 128]).abs()
            for i in range(0, len(val_graphs), 128)
        ]
        model.train()
        return float(torch.cat(err).mean())

    groups = [{"params": model.parameters(), "lr": 1e-4}]
    if head is not None:
        groups.append({"params": head.parameters(), "lr": 1e-3})
    opt = torch.optim.Adam(groups)
    before, seen, t0 = val_mae(), 0, time.perf_counter()
    while time.perf_counter() - t0 < minutes * 60:
        for idx in torch.randperm(len(train_graphs)).split(batch):
            batch_ = collate([train_graphs[i] for i in idx.tolist()])
            loss = (predict(batch_) - y_train[idx]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
            if time.perf_counter() - t0 > minutes * 60:
                break
    return before, val_mae(), seen


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/qm9_pamnet.pt")
    p.add_argument("--train", type=int, default=40000)
    p.add_argument("--val", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--finetune-minutes", type=float, default=0,
        help="then also train trunk + head together for this long per head (mu)",
    )  # fmt: skip
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    loaded = load_checkpoint(args.checkpoint)
    seed = int(loaded.metadata.get("split", {}).get("seed", 0))
    parts = qm9.split(seed)
    sets = {}
    for name, n in (("train", args.train), ("val", args.val)):
        t0 = time.perf_counter()
        data = qm9.load(parts[name][:n])
        h, att, pos, graph, preds = features(loaded, data)
        sets[name] = (h, att, pos, graph, data.atom_ptr, data.y, preds)
        print(f"{name}: {len(data)} molecules, features in {time.perf_counter() - t0:.0f} s")
    tr, va = sets["train"], sets["val"]
    n_layers, dim = tr[0].shape[1], tr[0].shape[2]
    print(f"{'target':6s} {'head':7s} {'val MAE':>9s}  (shipped model on the same molecules)")
    fitted = {}
    for target, kinds in (("mu", ("scalar", "dipole")), ("r2", ("scalar", "r2"))):
        k = loaded.targets.index(target)
        y_tr, y_va = tr[5][:, k].float(), va[5][:, k].float()
        shipped = float((va[6][:, k] - va[5][:, k]).abs().mean())
        print(f"{target:6s} {'shipped':7s} {shipped:9.4f}")
        norm = loaded.normalization
        for kind in kinds:
            torch.manual_seed(0)
            head = Head(n_layers, dim, kind, norm.mean[k], norm.std[k])
            if kind == "scalar":  # start from the shipped readout: the same numbers to start
                layers = [m for pair in zip(loaded.model.global_layer, loaded.model.local_layer)
                          for m in pair]  # fmt: skip
                with torch.no_grad():
                    head.w.copy_(torch.stack([m.W_out.weight[k] for m in layers]))
                    head.b.copy_(torch.stack([m.W_out.bias[k] for m in layers]))
            t0 = time.perf_counter()
            curve = fit(head, tr[:5], va[:4] + (None,), y_tr, y_va, args.epochs)
            fitted[target, kind] = head
            print(
                f"{target:6s} {kind:7s} {curve[-1]:9.4f}  ({time.perf_counter() - t0:.0f} s; "
                f"start {curve[0]:.4f}, every 10th epoch: {', '.join(f'{c:.4f}' for c in curve[10::10])})"
            )

    if not args.finetune_minutes:
        return
    data = {n: qm9.load(parts[n][: getattr(args, n)]) for n in ("train", "val")}
    k = loaded.targets.index("mu")
    print(f"trunk + head trained together on mu, {args.finetune_minutes} min each, one run each")
    for kind in ("scalar", "dipole"):
        head = None if kind == "scalar" else fitted["mu", kind]
        before, after, seen = finetune(
            loaded, head, "mu", data["train"].graphs(), data["train"].y[:, k].float(),
            data["val"].graphs(), data["val"].y[:, k].float(), args.finetune_minutes,
        )  # fmt: skip
        print(f"mu     {kind:7s} val MAE {before:.4f} -> {after:.4f} ({seen} molecules seen)")


if __name__ == "__main__":
    main()
