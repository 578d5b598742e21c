"""Import state dicts of the official PAMNet code (XieResearchGroup, commit 3c13aa6).

`config` is the official `Config` as a dict ({"dataset", "dim", "n_layer",
"cutoff_l", "cutoff_g", "flow", "model", optional "knn"}) and a `case` is one
input as in the reference files: QM9 {"elements", "pos", "bonds"}, PDBbind
{"x": [N][3 + 18]} laid out complex / pocket (+100 Å in x) / ligand (+200 Å),
RNA {"pos", "labels"} (labels C=0, N=1, O=2) or {"x": [N][4]}.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from pamnet.checkpoint import read_payload
from pamnet.config import ModelConfig
from pamnet.data import Batch, GraphInput, collate
from pamnet.errors import CheckpointError, ConfigError
from pamnet.featurize import QM9_TYPES
from pamnet.model import PAMNet

# The official PDBbind layout marks pocket and ligand copies by x > 40 Å.
_COPY_THRESHOLD = 40.0


def model_config(config: dict) -> ModelConfig:
    """Our ModelConfig for an official Config dict."""
    dataset = str(config.get("dataset", ""))
    if dataset == "QM9":
        task, types = "molecule", 5
    elif dataset == "PDBbind":
        task, types = "complex", 5
    elif dataset[:3].lower() == "rna":
        task, types = "rna", 3
    else:
        raise ConfigError(f"unknown official dataset {dataset!r}: expected QM9, PDBbind or rna*")
    return ModelConfig(
        task=task,
        variant=config.get("model", "PAMNet"),
        dim=int(config["dim"]),
        n_layer=int(config["n_layer"]),
        cutoff_l=float(config["cutoff_l"]),
        cutoff_g=float(config["cutoff_g"]),
        num_atom_types=types,
        flow=config.get("flow", "source_to_target"),
        knn_k=int(config.get("knn", 50)),
    )


def convert_state_dict(state: dict, cfg: ModelConfig) -> dict:
    """Rename official keys to ours and drop the parameters the task never uses."""
    out = {}
    for key, value in state.items():
        if key == "embeddings" and not cfg.uses_atom_types:
            continue
        if key.startswith("init_linear.") and cfg.uses_atom_types:
            continue
        key = re.sub(r"^(local_layer\.\d+)\.mlp_m_(kj|jj)\.", r"\1.mlp_m_nb.", key)
        key = re.sub(r"^mlp_sbf\.", "mlp_sbf1.", key)  # PAMNet_s has a single sbf MLP
        out[key] = value
    return out


def load(path: str | os.PathLike, config: dict) -> PAMNet:
    """An official PAMNet/PAMNet_s state dict as our model, in eval mode, on CPU."""
    cfg = model_config(config)
    state = read_payload(path)
    if "model" in state and "config" in state:
        raise CheckpointError(
            f"{path}: this is already a PAMNet Studio checkpoint; use load_checkpoint"
        )
    model = PAMNet(cfg)
    try:
        model.load_state_dict(convert_state_dict(state, cfg))
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: the state dict does not match config {config}: {str(exc)[:300]}"
        ) from None
    return model.eval()


def case_input(case: dict, cfg: ModelConfig) -> GraphInput:
    """One reference case as model input, with the official conventions."""
    name = str(case.get("name", ""))
    if cfg.task == "molecule":
        pos = torch.tensor(case["pos"], dtype=torch.float32)
        types = torch.tensor([QM9_TYPES[e] for e in case["elements"]], dtype=torch.long)
        bonds = torch.tensor(case["bonds"], dtype=torch.long).reshape(-1, 2).T
        bonds = torch.cat([bonds, bonds.flip(0)], 1)
        return GraphInput(pos=pos, atom_type=types, bond_index=bonds, name=name)
    if cfg.task == "complex":
        x = torch.tensor(case["x"], dtype=torch.float32)
        pos = x[:, :3].contiguous()
        sign = torch.where(pos[:, 0] > _COPY_THRESHOLD, -1.0, 1.0)
        return GraphInput(pos=pos, atom_feat=x[:, 3:].contiguous(), sign=sign, name=name)
    if "x" in case:
        x = torch.tensor(case["x"], dtype=torch.float32)
        pos, labels = x[:, :3].contiguous(), x[:, -1].long()
    else:
        pos = torch.tensor(case["pos"], dtype=torch.float32)
        labels = torch.tensor(case["labels"], dtype=torch.long)
    return GraphInput(pos=pos, atom_type=labels, name=name)


def _batch(cases: list[dict], cfg: ModelConfig) -> Batch:
    return collate([case_input(c, cfg) for c in cases])


@torch.no_grad()
def run(model: PAMNet, case: dict | list[dict]) -> dict | list[dict]:
    """{"prediction": float, "attention": [n_layer][n_atoms][2]} per case (a list runs as one batch)."""
    cases = case if isinstance(case, list) else [case]
    batch = _batch(cases, model.config)
    device = next(model.parameters()).device
    out = model(batch.to(device), return_attention=True)
    pred = out.prediction[:, 0].cpu()
    att = out.attention.cpu()
    results = []
    for g in range(batch.num_graphs):
        mask = batch.graph == g
        results.append({"prediction": float(pred[g]), "attention": att[:, mask].tolist()})
    return results if isinstance(case, list) else results[0]


def read_tu_rna(folder: str | os.PathLike, prefix: str = "rna_native") -> list[dict]:
    """RNA cases from a TU-format folder (node_attributes = x,y,z; node_labels C/N/O)."""
    folder = Path(folder)

    def lines(kind: str) -> list[str]:
        return (folder / f"{prefix}_{kind}.txt").read_text().split("\n")

    xyz = [[float(v) for v in ln.split(",")] for ln in lines("node_attributes") if ln.strip()]
    labels = [int(ln) for ln in lines("node_labels") if ln.strip()]
    graph = [int(ln) for ln in lines("graph_indicator") if ln.strip()]
    names = [ln.strip() for ln in lines("graph_names") if ln.strip()]
    cases: dict[int, dict] = {}
    for p, lab, g in zip(xyz, labels, graph):
        c = cases.setdefault(g, {"pos": [], "labels": []})
        c["pos"].append(p)
        c["labels"].append(lab)
    out = []
    for g in sorted(cases):
        c = cases[g]
        c["name"] = names[g - 1] if g - 1 < len(names) else f"graph_{g}"
        out.append(c)
    return out
