"""QM9 molecules rebuilt from their SMILES as the app builds SMILES input (ETKDGv3 +
MMFF94, `pamnet.io.from_smiles`): the geometries the MMFF model is trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pamnet import qm9
from pamnet.errors import DataError
from pamnet.paths import atomic_write
from pamnet.qm9 import ELEMENTS, NUM_MOLECULES, QM9, _ptr, cache_dir

MMFF_CACHE_VERSION = 1


def _mmff_one(job: tuple[str, tuple[str, ...], int]):
    """(atom types, coords, bonds) of one SMILES built by our SMILES reader, or None when
    embedding fails or the formula differs from the DFT molecule's (`dft_elements`)."""
    from collections import Counter

    from pamnet.errors import PamnetError
    from pamnet.io import from_smiles

    smi, dft_elements, seed = job
    try:
        s = from_smiles(smi, seed=seed)
    except PamnetError:
        return None
    if Counter(s.elements) != Counter(dft_elements):
        return None
    b = np.asarray(s.bonds if s.bonds is not None else np.zeros((0, 2)), dtype=np.int64)
    b = np.sort(b, axis=1) if len(b) else np.zeros((0, 2), np.int64)
    types = np.array([ELEMENTS.index(e) for e in s.elements], dtype=np.int8)
    return types, np.asarray(s.coords, dtype=np.float32), b


def build_mmff(data: QM9, seed: int = 0, workers: int = 1, progress=None) -> tuple[QM9, list[int]]:
    """The molecules of `data` rebuilt from their SMILES exactly as the app builds a
    SMILES input (ETKDGv3 + MMFF94, `pamnet.io.from_smiles`), with the SMILES's bonds as
    the local graph. Returns (those molecules, the rows of `data` they come from);
    molecules whose embedding fails or whose SMILES has another formula are left out.
    `progress(done, total)` is called now and then; `workers` > 1 uses processes."""
    jobs = [
        (smi, tuple(ELEMENTS[int(t)] for t in data.atom_type[a0:a1]), seed)
        for smi, a0, a1 in zip(data.smiles, data.atom_ptr[:-1].tolist(), data.atom_ptr[1:].tolist())
    ]
    results = []
    if workers > 1:
        import multiprocessing as mp

        # fork (not spawn: that re-runs the caller's __main__, impossible from a notebook
        # or stdin); the workers use only RDKit and NumPy, never torch's thread pool
        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(_mmff_one, jobs, chunksize=64):
                results.append(r)
                if progress and len(results) % 1000 == 0:
                    progress(len(results), len(jobs))
    else:
        for job in jobs:
            results.append(_mmff_one(job))
            if progress and len(results) % 1000 == 0:
                progress(len(results), len(jobs))
    kept = [i for i, r in enumerate(results) if r is not None]
    out = [results[i] for i in kept]
    if not out:
        raise DataError("no molecule could be rebuilt from its SMILES")
    return (
        QM9(
            pos=torch.from_numpy(np.concatenate([r[1] for r in out])),
            atom_type=torch.from_numpy(np.concatenate([r[0] for r in out])),
            atom_ptr=_ptr(torch.tensor([len(r[0]) for r in out])),
            bonds=torch.from_numpy(np.concatenate([r[2] for r in out])).to(torch.int16),
            bond_ptr=_ptr(torch.tensor([len(r[2]) for r in out])),
            y=data.y[kept],
            index=data.index[kept],
            smiles=[data.smiles[i] for i in kept],
        ),
        kept,
    )


def mmff_cache_path(seed: int = 0) -> Path:
    return cache_dir() / f"qm9_mmff_v{MMFF_CACHE_VERSION}_seed{seed}.pt"


def load_mmff(
    rows: list[int] | Tensor | None = None, seed: int = 0, workers: int = 1, progress=None
) -> tuple[QM9, list[int]]:
    """MMFF-geometry molecules (see `build_mmff`) for positions `rows` in QM9 order (all
    when None), and which of `rows` they are (positions into `rows`). Read from the cache
    when it exists; else all of QM9 is built and cached when `rows` is None (about 20
    CPU-minutes), or only `rows` when given."""
    path = mmff_cache_path(seed)
    if path.is_file():
        d = torch.load(path, map_location="cpu", weights_only=True)
        if d.get("version") == MMFF_CACHE_VERSION:
            source = d["source_row"]
            data = QM9(**{k: v for k, v in d.items() if k not in ("version", "source_row")})
            if rows is None:
                return data, source.tolist()
            where = torch.full((NUM_MOLECULES,), -1, dtype=torch.long)
            where[source] = torch.arange(len(source))
            at = where[torch.as_tensor(rows, dtype=torch.long)]
            keep = torch.nonzero(at >= 0).flatten()
            return data.subset(at[keep]), keep.tolist()
    if rows is not None:
        return build_mmff(qm9.load(rows), seed, workers, progress)
    data, kept = build_mmff(qm9.load(), seed, workers, progress)
    payload = {"version": MMFF_CACHE_VERSION, "source_row": torch.tensor(kept), **data.__dict__}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return data, kept
