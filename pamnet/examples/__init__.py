"""Small bundled structures for demos and tests (`make_examples.py` regenerates them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pamnet.errors import UnknownNameError
from pamnet.io import read
from pamnet.structure import Structure

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    """One bundled example: file name, the task it suits and a one-line description."""

    name: str
    filename: str
    task: str
    description: str

    @property
    def path(self) -> Path:
        return HERE / self.filename


_QM9 = "QM9 DFT geometry (B3LYP/6-31G(2df,p)) with reference targets in the comment line"
EXAMPLES: tuple[Example, ...] = (
    Example("methane", "qm9_methane.xyz", "molecule", f"Methane, {_QM9}"),
    Example("water", "qm9_water.xyz", "molecule", f"Water, {_QM9}"),
    Example("ethanol", "qm9_ethanol.xyz", "molecule", f"Ethanol, {_QM9}"),
    Example("benzene", "qm9_benzene.xyz", "molecule", f"Benzene, {_QM9}"),
    Example("pyridine", "qm9_pyridine.xyz", "molecule", f"Pyridine, {_QM9}"),
    Example(
        "trifluoroacetaldehyde", "qm9_trifluoroacetaldehyde.xyz", "molecule",
        f"Trifluoroacetaldehyde (has F), {_QM9}",
    ),
    Example(
        "drugs", "drugs.sdf", "molecule",
        "Aspirin, caffeine, ibuprofen, paracetamol: 3D from SMILES (RDKit ETKDG + MMFF94)",
    ),
    Example(
        "complex", "complex_synthetic.pdb", "complex",
        "SYNTHETIC protein-ligand complex: an ideal 48-residue alpha helix with "
        "benzamidine (HETATM BEN) placed against it; not an experimental structure",
    ),
    Example(
        "rna", "rna_synthetic.pdb", "rna",
        "SYNTHETIC RNA: the 8-nt strand GGCGCUUG embedded by RDKit (no base pairing); "
        "not an experimental structure",
    ),
)  # fmt: skip


def list_examples(task: str | None = None) -> list[Example]:
    """All bundled examples, or those suited to `task` ('molecule', 'complex', 'rna')."""
    return [e for e in EXAMPLES if task is None or e.task == task]


def get_example(name: str) -> Example:
    for e in EXAMPLES:
        if e.name == name:
            return e
    raise UnknownNameError(
        f"no example {name!r}; choose one of {', '.join(e.name for e in EXAMPLES)}"
    )


def load_example(name: str) -> list[Structure]:
    """The structures of bundled example `name` (see `list_examples()`)."""
    return read(get_example(name).path)
