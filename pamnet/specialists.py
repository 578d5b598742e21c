"""Specialists: a target answered by a network trained for it alone.

Twelve targets share one trunk in the paper's QM9 model, and the sharing costs some of
them accuracy: trained on from the shipped model for the dipole moment alone, the same
network reaches a markedly lower test MAE on μ (stop 25's note). A specialist is such a
network: a `PAMNet` with the base model's config and normalisation (what
`pamnet train --init BASE --loss-weight '*=0' --loss-weight mu=1` gives), kept whole
inside the base model's checkpoint (`pamnet.checkpoint`, key "specialists").

`Specialized` runs the base and its specialists on the same graphs and takes each
specialist's column from the specialist: the prediction, its per-atom contributions and
their global/local split, so those still add up to the value shown. Attention and the
latent (`pamnet.uncertainty`) are the base's. The base is the paper's model, unchanged;
training, fine-tuning and `--init` use it alone (`LoadedModel.model`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from pamnet.data import Batch
from pamnet.errors import CheckpointError
from pamnet.model import PAMNet, PAMNetOutput
from pamnet.tasks import Graphs


class Specialist(NamedTuple):
    """A specialist network and what its card says about it (training, history)."""

    model: PAMNet
    metadata: dict


class Specialized(nn.Module):
    """The base model with some target columns taken from specialists.

    forward(batch, ...) -> PAMNetOutput, as `PAMNet.forward`; specialists: {target:
    PAMNet} (configs equal to the base's; one network may answer several targets, and
    runs once); targets: the base's target names."""

    def __init__(self, base: PAMNet, specialists: dict[str, PAMNet], targets: list[str]):
        super().__init__()
        self.base = base
        self.nets = dict(specialists)  # what `LoadedModel.combined` checks its cache against
        nets: list[PAMNet] = []
        self.columns: list[list[int]] = []  # per member: the target columns it answers
        for t, net in specialists.items():
            if not any(net is m for m in nets):
                nets.append(net)
                self.columns.append([])
            self.columns[next(i for i, m in enumerate(nets) if m is net)].append(targets.index(t))
        self.members = nn.ModuleList(nets)

    @property
    def config(self):
        return self.base.config

    @property
    def task(self):
        return self.base.task

    @property
    def global_layer(self) -> nn.ModuleList:  # what progress hooks watch: the base's blocks
        return self.base.global_layer

    @property
    def local_layer(self) -> nn.ModuleList:
        return self.base.local_layer

    def forward(
        self,
        batch: Batch,
        return_attention: bool = False,
        return_contributions: bool = False,
        graphs: Graphs | None = None,
        return_latent: bool = False,
    ) -> PAMNetOutput:
        c = self.config
        if graphs is None:  # built once, for every member (same cutoffs)
            graphs = self.task.build_graphs(batch, c.cutoff_l, c.cutoff_g)
        out = self.base(batch, return_attention, return_contributions, graphs, return_latent)
        pred, contrib, channels = out.prediction, out.contributions, out.channels
        for cols, member in zip(self.columns, self.members):
            o = member(batch, False, return_contributions, graphs)
            take = torch.zeros(pred.shape[-1], dtype=torch.bool, device=pred.device)
            take[cols] = True  # on the last (target) dimension of every output
            pred = torch.where(take, o.prediction, pred)
            if return_contributions:
                contrib = torch.where(take, o.contributions, contrib)
                channels = torch.where(take, o.channels, channels)
        return out._replace(prediction=pred, contributions=contrib, channels=channels)


def check(base, target: str, specialist, name: str = "specialist") -> None:
    """CheckpointError unless `specialist` (a LoadedModel) can answer `target` for
    `base` (a LoadedModel): the same config, targets and normalisation of that target."""
    if target not in base.targets:
        raise CheckpointError(
            f"{name}: the base model has no target {target!r}; its targets: {base.targets}"
        )
    if specialist.config.to_dict() != base.config.to_dict():
        diff = sorted(
            k for k, v in base.config.to_dict().items() if specialist.config.to_dict().get(k) != v
        )
        raise CheckpointError(
            f"{name}: its config differs from the base model's ({', '.join(diff)}); train it "
            "with `pamnet train --init BASE` so that it has the same architecture"
        )
    if list(specialist.targets) != list(base.targets):
        raise CheckpointError(f"{name}: its targets differ from the base model's")
    k = base.targets.index(target)
    a, b = base.normalization, specialist.normalization
    same = (a is None) == (b is None)
    if a is not None and b is not None:
        same = (a.mean[k], a.std[k], a.per_atom[k]) == (b.mean[k], b.std[k], b.per_atom[k])
        refs = [(x[k], y[k]) for x, y in zip(a.atom_ref or [], b.atom_ref or [])]
        same = same and (a.atom_ref is None) == (b.atom_ref is None)
        same = same and all(abs(x - y) <= 1e-9 * max(1.0, abs(x)) for x, y in refs)
    if not same:
        raise CheckpointError(
            f"{name}: its normalisation of {target!r} differs from the base model's; a "
            "specialist must be trained with `pamnet train --init BASE`, which keeps it"
        )
    split, other = base.metadata.get("split"), specialist.metadata.get("split")
    if split is not None and other is not None and split != other:
        raise CheckpointError(
            f"{name}: it was trained on another split than the base model's, so the base "
            "model's test molecules may have been its training data; train it on the same split"
        )


def summary(metadata: dict) -> dict:
    """What a specialist's card needs from its checkpoint metadata (`pamnet train`'s):
    its training less the per-epoch history, and which model it started from."""
    keep = {k: metadata[k] for k in ("data", "split", "heads") if k in metadata}
    training = metadata.get("training")
    if isinstance(training, dict):
        keep["training"] = {k: v for k, v in training.items() if k != "val_history"}
    init = metadata.get("init")
    if isinstance(init, dict):
        done = (init.get("training") or {}).get("epochs_done_total")
        keep["init"] = {k: init[k] for k in ("checkpoint", "sha256") if k in init}
        keep["init"]["epochs_done"] = done or (init.get("training") or {}).get("epochs_done")
    return keep


def attach(base, specialists: dict):
    """A copy of `base` (a LoadedModel) that answers each target of `specialists`
    ({target: LoadedModel}; the same one for several targets is stored and run once)
    from that specialist; its calibration is dropped (the intervals of those targets
    no longer fit), so calibrate it again."""
    from dataclasses import replace

    merged, made = dict(base.specialists), {}
    device = next(base.model.parameters()).device
    for target, spec in specialists.items():
        check(base, target, spec, name=spec.path or f"the {target} specialist")
        if id(spec) not in made:
            made[id(spec)] = Specialist(spec.model.to(device), summary(spec.metadata))
        merged[target] = made[id(spec)]
    return replace(base, specialists=merged, calibration=None)


def to_payload(specialists: dict[str, Specialist]) -> list[dict]:
    """The checkpoint's "specialists" entry: [{targets, model, config, metadata}], one
    per network (a network answering several targets is stored once)."""
    groups: list[tuple[Specialist, list[str]]] = []
    for t, s in specialists.items():
        same = [g for g in groups if g[0].model is s.model]
        if same:
            same[0][1].append(t)
        else:
            groups.append((s, [t]))
    return [
        {
            "targets": ts,
            "model": {k: v.detach().cpu() for k, v in s.model.state_dict().items()},
            "config": s.model.config.to_dict(),
            "metadata": s.metadata,
        }
        for s, ts in groups
    ]


def from_payload(entries: list[dict] | None, base: PAMNet, name: str) -> dict[str, Specialist]:
    """{target: Specialist} from a checkpoint's "specialists" entry (see `to_payload`)."""
    if entries is not None and not isinstance(entries, list):
        raise CheckpointError(f"{name}: its specialists entry is not a list")
    out = {}
    for e in entries or []:
        targets = e.get("targets") if isinstance(e, dict) else None
        ok = isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets)
        if not ok or e.get("config") != base.config.to_dict():
            raise CheckpointError(
                f"{name}: a specialist ({targets!r}) does not fit the base model's config"
            )
        which = ", ".join(targets)
        model = PAMNet(base.config)
        try:
            model.load_state_dict(e["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(
                f"{name}: the {which} specialist's weights do not fit: {str(exc)[:300]}"
            ) from None
        specialist = Specialist(model.eval(), dict(e.get("metadata") or {}))
        out.update({t: specialist for t in targets})
    return out


def note(target: str) -> str:
    """What a page says under a target a specialist answers."""
    return (
        f"{target} comes from a specialist: the same network trained on for {target} "
        "alone (or with a few targets like it), which is more accurate for it (the model "
        "card gives both errors). Its "
        "value, interval, contributions, local/global split and Integrated Gradients are "
        "the specialist's; the attention weights shown are the main model's."
    )
