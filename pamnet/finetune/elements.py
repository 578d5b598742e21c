"""Element tables of fine-tuned molecule models: which elements, and new embedding rows.

Fine-tune data are featurized with atom types indexed in `featurize.ORGANIC` (QM9's
H, C, N, O, F first). A model's own table is the base's (QM9's five for the shipped
models) plus the elements the data add, in ORGANIC order, so the base's rows keep
their indices; `remap` moves the data onto that table. A new element's embedding row
starts (`ELEMENT_INITS`) from the learned row of the lighter element of its group
('group': S and Se from O, Cl/Br/I from F, P from N, Si and B from C), from the mean
of the base's rows ('mean'), or from the model's random initialisation ('random').
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pamnet.data import GraphInput
from pamnet.errors import ConfigError
from pamnet.featurize import ORGANIC, QM9_TYPES

ELEMENT_INITS = ("group", "mean", "random")
GROUP_DONOR = {"B": "C", "Si": "C", "P": "N", "S": "O", "Se": "O", "Cl": "F", "Br": "F", "I": "F"}
QM9_ELEMENTS = tuple(QM9_TYPES)


def present(graphs: Sequence[GraphInput]) -> tuple[str, ...]:
    """The elements (ORGANIC order) of ORGANIC-indexed molecule inputs."""
    if not graphs:
        return ()
    seen = torch.unique(torch.cat([g.atom_type for g in graphs])).tolist()
    return tuple(ORGANIC[k] for k in sorted(seen))


def extended(base: Sequence[str], data: Sequence[str]) -> tuple[str, ...]:
    """`base`'s table with the elements of `data` it lacks appended, in ORGANIC order."""
    return tuple(base) + tuple(e for e in ORGANIC if e in data and e not in base)


def remap(graphs: Sequence[GraphInput], table: Sequence[str]) -> None:
    """Re-index ORGANIC-indexed atom types onto `table`, in place (once per graph)."""
    lut = torch.full((len(ORGANIC),), -1, dtype=torch.long)
    for k, e in enumerate(table):
        lut[ORGANIC.index(e)] = k
    for g in graphs:
        if (g.meta or {}).get("types") == tuple(table):
            continue
        t = lut[g.atom_type]
        if (t < 0).any():
            missing = sorted({ORGANIC[int(i)] for i in g.atom_type[t < 0]})
            raise ConfigError(f"{g.name}: the model has no row for {', '.join(missing)}")
        g.atom_type = t
        g.meta = {**(g.meta or {}), "types": tuple(table)}


def new_rows(
    base_rows: torch.Tensor,
    base: Sequence[str],
    added: Sequence[str],
    how: str,
    fresh: torch.Tensor,
) -> torch.Tensor:
    """[len(added), dim] starting rows of the added elements. fresh: the new model's own
    (random) rows for them, used by 'random' and where 'group' has no donor."""
    if how not in ELEMENT_INITS:
        raise ConfigError(f"unknown element init {how!r}; use one of {', '.join(ELEMENT_INITS)}")
    rows = fresh.clone()
    for k, e in enumerate(added):
        donor = GROUP_DONOR.get(e)
        if how == "group" and donor in base:
            rows[k] = base_rows[list(base).index(donor)]
        elif how in ("group", "mean"):
            rows[k] = base_rows.mean(0)
    return rows
