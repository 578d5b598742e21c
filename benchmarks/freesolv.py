"""FreeSolv (Mobley & Guthrie 2014, v0.52): experimental hydration free energies of 642
small molecules, and the random split both tools are compared on.

The data is not shipped: read `database.txt` from the public MobleyLab/FreeSolv
repository (semicolon-separated; '#' comment lines; SMILES in field 2, the
experimental value in kcal/mol in field 4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SPLIT_SEED = 0
FRACTIONS = (0.8, 0.1)  # train, val; the rest is test


def load(path: str | Path) -> pd.DataFrame:
    """Columns name, smiles, expt (kcal/mol), in the file's order."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(";")]
        rows.append({"name": fields[0], "smiles": fields[1], "expt": float(fields[3])})
    return pd.DataFrame(rows)


def split(df: pd.DataFrame, seed: int = SPLIT_SEED) -> pd.DataFrame:
    """`df` with a column 'split': train / val / test, random 80/10/10 from
    `numpy.random.default_rng(seed).permutation(len(df))` (the first floor(0.8 n) rows
    of the permutation train, the next floor(0.1 n) val, the rest test: 513 / 64 / 65
    of FreeSolv's 642)."""
    n = len(df)
    n_train, n_val = int(FRACTIONS[0] * n), int(FRACTIONS[1] * n)
    order = np.random.default_rng(seed).permutation(n)
    role = np.empty(n, dtype=object)
    role[order[:n_train]] = "train"
    role[order[n_train : n_train + n_val]] = "val"
    role[order[n_train + n_val :]] = "test"
    return df.assign(split=role)


def write_split_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV with columns smiles, expt, split, name (Chemprop's --splits-column and
    `pamnet finetune --split-col` read the same file)."""
    path = Path(path)
    df[["smiles", "expt", "split", "name"]].to_csv(path, index=False)
    return path
