"""PAMNet Studio: the Physics-aware Multiplex GNN as a package.

A small top-level API for notebooks and scripts (each name imports its module
on first use, so `import pamnet` stays fast)::

    import pamnet
    mol = pamnet.from_smiles("CC(=O)Oc1ccccc1C(=O)O")    # 3D built for you (MMFF)
    pamnet.show_edges(mol)                               # local vs non-local edges, 3D
    rows = pamnet.predict([mol, "CCO"])                  # shipped QM9 model; a table in Jupyter
    rows.to_frame()                                      # pandas
    ex = pamnet.explain(mol)                             # attention, contributions, attributions

Structures: `read(file)` (every record; the first bad one raises), `read_records(file)`
(one `Record` per record, a bad one with its reason: `predict` takes them as they
are, one row each), `load(file_or_smiles)` (the first),
`from_smiles`, `examples()` / `example(name)`. Drawing: `pamnet.viz`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "read": ("pamnet.io", "read"),
    "read_records": ("pamnet.io", "read_records"),
    "load": ("pamnet.io", "read_one"),
    "from_smiles": ("pamnet.io", "from_smiles"),
    "write": ("pamnet.io", "write"),
    "Structure": ("pamnet.structure", "Structure"),
    "examples": ("pamnet.examples", "list_examples"),
    "example": ("pamnet.examples", "load_example"),
    "show_edges": ("pamnet.viz", "edge_view"),
    # Submodules whose main function shares their name: the name is the module
    # itself, made callable (see _callable), so `from pamnet import predict` and
    # `pamnet.predict(...)` both work.
    "predict": ("pamnet.predict", None),
    "Predictor": ("pamnet.predict", "Predictor"),
    "checkpoints": ("pamnet.registry", "list_checkpoints"),
    "load_checkpoint": ("pamnet.registry", "load"),
    "explain": ("pamnet.explain", None),
    "finetune": ("pamnet.finetune", None),
    "PAMNet": ("pamnet.model", "PAMNet"),
    "ModelConfig": ("pamnet.config", "ModelConfig"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        if attr is not None:
            value = getattr(value, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pamnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
