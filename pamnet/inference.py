"""The one inference path: batch -> model -> physical units.

`run` is what `Predictor.predict`, `explain`, validation during training and
`qm9_eval.evaluate` all call for one batch; `predict_graphs` batches a list of inputs
through it. Normalisation lives in `pamnet.normalize`; nothing here knows about
training.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from pamnet.checkpoint import Normalization
from pamnet.data import Batch, GraphInput, collate
from pamnet.normalize import per_atom_reference, physical_contributions, to_physical


class Outputs(NamedTuple):
    """One batch's results, float64, in the targets' units.

    values [G, T]; attention [L, N, 2] (global, local) or None; contributions
    [L, N, T] summing to values, or None; offset [N, T]: the normalisation's part of
    the contributions (each atom's share of mean and atom references), or None;
    channels [L, N, 2, T]: the learned part of each contribution split into what came
    through the global (non-local) and the local layer, so that
    values = per-structure sum of channels over (L, 2) and atoms + offset; latent
    [G, dim] float32: the mean final atom state per structure (`pamnet.uncertainty`).
    """

    values: Tensor
    attention: Tensor | None = None
    contributions: Tensor | None = None
    offset: Tensor | None = None
    channels: Tensor | None = None
    latent: Tensor | None = None


@torch.no_grad()
def run(
    model: nn.Module,
    batch: Batch,
    norm: Normalization | None,
    attention: bool = False,
    contributions: bool = False,
    latent: bool = False,
) -> Outputs:
    """The model on one batch (already on the model's device and dtype), in physical
    units; attention, contributions and latents on request."""
    out = model(
        batch, return_attention=attention, return_contributions=contributions, return_latent=latent
    )
    values = to_physical(out.prediction, batch, norm)
    if not contributions:
        return Outputs(values, out.attention if attention else None, latent=out.latent)
    contrib = physical_contributions(out.contributions, batch, norm)
    channels = out.channels.double()
    offset = None
    if norm is not None:
        offset = per_atom_reference(batch, norm)
        channels = channels * torch.tensor(norm.std, dtype=torch.float64, device=channels.device)
    return Outputs(
        values, out.attention if attention else None, contrib, offset, channels, out.latent
    )


def predict_graphs(
    model: nn.Module,
    graphs: list[GraphInput],
    norm: Normalization | None,
    batch_size: int = 128,
    device: str | torch.device | None = None,
    latent: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """[n, T] float64 predictions in physical units for `graphs`, in batches (the model
    is put in eval mode); with latent, also the [n, dim] latents."""
    device = device or next(model.parameters()).device
    model.eval()
    outs = [
        run(model, collate(graphs[i : i + batch_size]).to(device), norm, latent=latent)
        for i in range(0, len(graphs), batch_size)
    ]
    values = (
        torch.cat([o.values.cpu() for o in outs])
        if outs
        else torch.zeros(0, 0, dtype=torch.float64)
    )
    if not latent:
        return values
    dim = model.config.dim
    lat = torch.cat([o.latent.float().cpu() for o in outs]) if outs else torch.zeros(0, dim)
    return values, lat


def mae(pred: Tensor, y: Tensor) -> Tensor:
    """[T] mean absolute error per target, NaN targets skipped (NaN if none)."""
    err = (pred.double() - y.double()).abs()
    mask = ~torch.isnan(err)
    return torch.where(mask, err, 0.0).sum(0) / mask.sum(0)


def score(err: Tensor, std: list[float] | None, weights: Tensor | None = None) -> float:
    """The trainer's validation score: the mean over targets of MAE / std, weighted by
    `weights` when given (targets with no MAE skipped)."""
    rel = err.double() / torch.tensor(std if std is not None else [1.0] * len(err)).double()
    w = (weights.cpu().double() if weights is not None else torch.ones_like(rel)) * rel.isfinite()
    return float(torch.nansum(rel * w) / w.sum())
