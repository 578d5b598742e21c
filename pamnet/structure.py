"""`Structure`: the one in-memory form every reader returns.

A structure is a list of atoms with 3D coordinates (Å) and whatever else the file
format knows: bonds and bond orders, formal and partial charges, atom names,
residues and chains, a role per atom (ligand, protein, water, ...), SDF-style
properties. Featurizers (`pamnet.featurize`) turn it into model input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from pamnet.errors import ParseError, StructureError
from pamnet.rdkit_bonds import determine_bonds

ROLES = ("ligand", "pocket", "protein", "nucleic", "water", "ion", "other", "molecule")
POLYMER_ROLES = ("protein", "nucleic")
MAX_HTML_ROWS = 30  # atoms shown by a structure's notebook display

# Above this size, bond orders are not perceived from geometry (RDKit's bond-order
# search grows quickly with size); connectivity is still found from covalent radii.
MAX_ORDER_PERCEPTION_ATOMS = 200
BOND_TOLERANCE = 0.45  # Å added to the sum of covalent radii, as in common "connect the dots"


def _periodic_table() -> tuple[tuple[str, ...], np.ndarray]:
    from rdkit import Chem

    pt = Chem.GetPeriodicTable()
    symbols = tuple(pt.GetElementSymbol(z) for z in range(1, 119))
    radii = np.array([0.0] + [pt.GetRcovalent(z) for z in range(1, 119)])
    return symbols, radii


ELEMENTS, _COVALENT_RADII = _periodic_table()
ATOMIC_NUMBERS: dict[str, int] = {sym: z for z, sym in enumerate(ELEMENTS, start=1)}
_ALIASES = {"D": "H", "T": "H"}


def normalize_element(symbol: str) -> str | None:
    """'CL' / 'cl' / 'Cl' -> 'Cl'; '6' -> 'C'; unknown -> None."""
    s = symbol.strip()
    if s.isdecimal():
        z = int(s)
        return ELEMENTS[z - 1] if 1 <= z <= len(ELEMENTS) else None
    s = s[:1].upper() + s[1:].lower()
    s = _ALIASES.get(s, s)
    return s if s in ATOMIC_NUMBERS else None


def atomic_numbers(elements: list[str]) -> np.ndarray:
    """[N] int atomic numbers of element symbols."""
    return np.array([ATOMIC_NUMBERS[e] for e in elements], dtype=np.int64)


def covalent_bonds(
    elements: list[str], coords: np.ndarray, tolerance: float = BOND_TOLERANCE
) -> np.ndarray:
    """Bonded pairs [B, 2] (i < j) where distance < r_cov(i) + r_cov(j) + tolerance (Å).

    Uses a k-d tree, so it is O(N log N) and fine for 100k atoms.
    """
    from scipy.spatial import cKDTree

    n = len(elements)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    radii = _COVALENT_RADII[atomic_numbers(elements)]
    reach = 2.0 * float(radii.max()) + tolerance
    pairs = cKDTree(coords).query_pairs(reach, output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    d = np.linalg.norm(coords[pairs[:, 0]] - coords[pairs[:, 1]], axis=1)
    keep = d < radii[pairs[:, 0]] + radii[pairs[:, 1]] + tolerance
    pairs = np.sort(pairs[keep], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def _components(n: int, bonds: np.ndarray) -> np.ndarray:
    """[n] connected-component label of each atom over `bonds` [B, 2]: label
    propagation with pointer jumping in numpy (no scipy import for a small molecule);
    scipy's connected_components beyond 5,000 atoms."""
    if n > 5_000:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n))
        return connected_components(graph, directed=False)[1]
    labels = np.arange(n)
    if len(bonds) == 0:
        return labels
    i, j = bonds[:, 0].astype(np.int64), bonds[:, 1].astype(np.int64)
    while True:
        low = np.minimum(labels[i], labels[j])
        new = labels.copy()
        np.minimum.at(new, i, low)
        np.minimum.at(new, j, low)
        new = new[new]  # pointer jumping: follow labels to their own labels
        if np.array_equal(new, labels):
            return labels
        labels = new


def _as_list(values, n: int, default: str | None) -> list[str] | None:
    if values is None:
        return None if default is None else [default] * n
    if isinstance(values, list) and (not values or isinstance(values[0], str)):
        return values  # readers already give lists of str; converting 100k items costs
    return [str(v) for v in values]


@dataclass
class Structure:
    """One molecular structure as read from a file or built from SMILES.

    elements: [N] element symbols. coords: [N, 3] float64, Å. bonds: [B, 2] int
    atom-index pairs (0-based) or None when the format does not say;
    bond_orders: [B] float (1, 2, 3, 1.5 aromatic, 0 unknown) or None.
    formal_charges: [N] int. partial_charges: [N] float (e) from the file, or None.
    roles: [N] one of `ROLES`. residue_* / chain_ids / atom_names: [N] or None
    where the format has no such field. properties: file fields (SDF data items,
    XYZ comment, ...). source: "file.sdf#3" (1-based record index). geometry:
    where the coordinates come from ('file', 'dft', 'etkdg', 'mmff', 'uff').
    """

    elements: list[str]
    coords: np.ndarray
    bonds: np.ndarray | None = None
    bond_orders: np.ndarray | None = None
    formal_charges: np.ndarray | None = None
    partial_charges: np.ndarray | None = None
    atom_names: list[str] | None = None
    roles: list[str] | None = None
    residue_names: list[str] | None = None
    residue_numbers: np.ndarray | None = None
    insertion_codes: list[str] | None = None
    chain_ids: list[str] | None = None
    properties: dict = field(default_factory=dict)
    name: str = ""
    source: str = ""
    smiles: str | None = None
    geometry: str = "file"
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.elements = _as_list(self.elements, 0, None)
        n = len(self.elements)
        self.coords = np.asarray(self.coords, dtype=np.float64).reshape(n, 3)
        if self.bonds is not None:
            self.bonds = np.asarray(self.bonds, dtype=np.int64).reshape(-1, 2)
            if self.bond_orders is not None:
                self.bond_orders = np.asarray(self.bond_orders, dtype=np.float64).reshape(-1)
                if len(self.bond_orders) != len(self.bonds):
                    raise StructureError("bond_orders and bonds differ in length")
        else:
            self.bond_orders = None
        if self.formal_charges is None:
            self.formal_charges = np.zeros(n, dtype=np.int64)
        self.formal_charges = np.asarray(self.formal_charges, dtype=np.int64).reshape(n)
        if self.partial_charges is not None:
            self.partial_charges = np.asarray(self.partial_charges, dtype=np.float64).reshape(n)
        if self.residue_numbers is not None:
            self.residue_numbers = np.asarray(self.residue_numbers, dtype=np.int64).reshape(n)
        self.roles = _as_list(self.roles, n, "molecule")
        for attr in ("atom_names", "residue_names", "insertion_codes", "chain_ids"):
            setattr(self, attr, _as_list(getattr(self, attr), n, None))
        for attr in ("roles", "atom_names", "residue_names", "insertion_codes", "chain_ids"):
            values = getattr(self, attr)
            if values is not None and len(values) != n:
                raise StructureError(f"{attr} has {len(values)} entries for {n} atoms")

    # --- summaries ----------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return len(self.elements)

    @property
    def n_bonds(self) -> int | None:
        return None if self.bonds is None else int(len(self.bonds))

    def element_counts(self) -> dict[str, int]:
        """Element -> count, in Hill order (C, H, then alphabetical)."""
        counts = Counter(self.elements)
        return {e: counts[e] for e in _hill_order(counts)}

    def role_counts(self) -> dict[str, int]:
        return dict(Counter(self.roles))

    @property
    def formula(self) -> str:
        """Hill formula, e.g. 'C9H8O4'; a net formal charge is appended ('+', '2-')."""
        text = "".join(f"{e}{c if c > 1 else ''}" for e, c in self.element_counts().items())
        q = int(self.formal_charges.sum())
        if q:
            text += f"{abs(q) if abs(q) > 1 else ''}{'+' if q > 0 else '-'}"
        return text

    def atom_label(self, i: int) -> str:
        """Human-readable label of atom i (0-based), e.g. 'S7 (CYS A45 SG)'."""
        label = f"{self.elements[i]}{i + 1}"
        if self.residue_names is not None:
            chain = self.chain_ids[i] if self.chain_ids else ""
            num = int(self.residue_numbers[i]) if self.residue_numbers is not None else ""
            name = self.atom_names[i] if self.atom_names else ""
            label += f" ({self.residue_names[i]} {chain}{num} {name})".replace("  ", " ")
        return label

    # --- editing ------------------------------------------------------------
    def select(self, mask: np.ndarray | list) -> Structure:
        """Sub-structure of the atoms in `mask` ([N] bool, or indices in order).

        Bonds with both ends kept are kept and re-indexed.
        """
        idx = np.asarray(mask)
        if idx.dtype == bool:
            if len(idx) != self.n_atoms:
                raise StructureError(f"mask has {len(idx)} entries for {self.n_atoms} atoms")
            idx = np.nonzero(idx)[0]
        idx = idx.astype(np.int64).reshape(-1)

        def pick(values):
            if values is None:
                return None
            if isinstance(values, np.ndarray):
                return values[idx]
            return [values[i] for i in idx]

        bonds = orders = None
        if self.bonds is not None:
            new_index = np.full(self.n_atoms, -1, dtype=np.int64)
            new_index[idx] = np.arange(len(idx))
            mapped = new_index[self.bonds] if len(self.bonds) else self.bonds
            keep = (mapped >= 0).all(axis=1) if len(mapped) else np.zeros(0, bool)
            bonds = mapped[keep]
            orders = None if self.bond_orders is None else self.bond_orders[keep]
        return replace(
            self,
            elements=pick(self.elements),
            coords=self.coords[idx],
            bonds=bonds,
            bond_orders=orders,
            formal_charges=pick(self.formal_charges),
            partial_charges=pick(self.partial_charges),
            atom_names=pick(self.atom_names),
            roles=pick(self.roles),
            residue_names=pick(self.residue_names),
            residue_numbers=pick(self.residue_numbers),
            insertion_codes=pick(self.insertion_codes),
            chain_ids=pick(self.chain_ids),
            properties=dict(self.properties),
            warnings=list(self.warnings),
        )

    def perceive_bonds(self, charge: int = 0) -> Structure:
        """A copy with bonds found from the geometry.

        Small structures with hydrogens get bond orders and formal charges from
        RDKit's rdDetermineBonds (total `charge` in e); otherwise, or when that
        fails, connectivity from covalent radii (bond orders unknown).
        """
        if self.n_atoms <= MAX_ORDER_PERCEPTION_ATOMS and "H" in self.elements:
            found = determine_bonds(self.elements, self.coords, charge)
            if found is not None:
                bonds, orders, charges = found
                return replace(self, bonds=bonds, bond_orders=orders, formal_charges=charges)
        bonds = covalent_bonds(self.elements, self.coords)
        note = "bond orders unknown: connectivity from covalent radii"
        warnings = self.warnings + ([note] if note not in self.warnings else [])
        return replace(self, bonds=bonds, bond_orders=None, warnings=warnings)

    # --- tables ---------------------------------------------------------------
    def display_bonds(self) -> np.ndarray:
        """[B, 2] bonds for showing: the file's, or from covalent radii when the file has
        none or holds polymers (PDB CONECT records usually cover only the ligands)."""
        if self.bonds is None or any(r in POLYMER_ROLES for r in self.roles):
            return covalent_bonds(self.elements, self.coords)
        return self.bonds

    def fragments(self, bonds: np.ndarray | None = None) -> list[np.ndarray]:
        """Atom indices of each connected fragment, largest first, over `bonds` ([B, 2];
        default `display_bonds`)."""
        b = self.display_bonds() if bonds is None else np.asarray(bonds).reshape(-1, 2)
        labels = _components(self.n_atoms, b)
        parts = [np.nonzero(labels == k)[0] for k in np.unique(labels)]
        return sorted(parts, key=len, reverse=True)

    def atom_table(self, coords: bool = True):
        """pandas table, one row per atom: 1-based index, element, role, residue (when
        the format has residues), degree (bonded atoms, see `display_bonds`), and x, y, z
        (Å) unless `coords` is False."""
        import pandas as pd

        degree = np.bincount(self.display_bonds().ravel(), minlength=self.n_atoms)
        table = {"atom": np.arange(1, self.n_atoms + 1), "element": self.elements}
        table["role"] = self.roles
        if self.residue_names is not None:
            nums = self.residue_numbers if self.residue_numbers is not None else [""] * self.n_atoms
            chains = self.chain_ids or [""] * self.n_atoms
            table["residue"] = [
                f"{r} {c}{n}".strip() for r, c, n in zip(self.residue_names, chains, nums)
            ]
        table["degree"] = degree.astype(int)
        for k, axis in enumerate("xyz" if coords else ""):
            table[axis] = self.coords[:, k]
        return pd.DataFrame(table)

    def _repr_html_(self) -> str:
        import html

        head = (
            f"<b>{html.escape(self.name or 'structure')}</b> &middot; {html.escape(self.formula)}"
            f" &middot; {self.n_atoms:,} atoms &middot; geometry {html.escape(self.geometry)}"
        )
        shown = self.atom_table().head(MAX_HTML_ROWS)
        more = self.n_atoms - len(shown)
        tail = f"<br>... {more:,} more atoms (<code>.atom_table()</code>)" if more > 0 else ""
        table = shown.to_html(index=False, float_format=lambda x: f"{x:.3f}")  # escapes text
        return f"<div>{head}{table}{tail}</div>"

    def __repr__(self) -> str:
        return (
            f"Structure({self.name!r}, {self.formula}, {self.n_atoms} atoms, "
            f"{self.n_bonds if self.n_bonds is not None else 'no'} bonds, {self.geometry})"
        )

    def bond_index(self) -> np.ndarray:
        """[2, 2B] int64 edge list with both directions (bonds perceived if unknown)."""
        bonds = self.bonds if self.bonds is not None else self.perceive_bonds().bonds
        if bonds is None or len(bonds) == 0:
            return np.zeros((2, 0), dtype=np.int64)
        return np.concatenate([bonds.T, bonds[:, ::-1].T], axis=1)


def _hill_order(counts: Counter) -> list[str]:
    rest = sorted(e for e in counts if e not in ("C", "H"))
    if "C" in counts:
        return ["C"] + (["H"] if "H" in counts else []) + rest
    return sorted(counts)


def element_or_error(symbol: str, line: int | None, source: str | None) -> str:
    """Normalized element symbol, or `ParseError` naming the line."""
    el = normalize_element(symbol)
    if el is None:
        raise ParseError(
            f"unknown element symbol {symbol.strip()!r}; use a periodic-table symbol such as C or Cl",
            line=line,
            source=source,
        )
    return el


def combine(protein: Structure, ligand: Structure) -> Structure:
    """Protein then ligand in one structure (ligand atoms get role 'ligand')."""
    n = ligand.n_atoms

    def cat(a, b, fill):
        if a is None and b is None:
            return None
        a = a if a is not None else [fill] * protein.n_atoms
        b = b if b is not None else [fill] * n
        return list(a) + list(b)

    bonds = None
    if protein.bonds is not None and ligand.bonds is not None:
        bonds = np.concatenate([protein.bonds, ligand.bonds + protein.n_atoms])
    pnum = protein.residue_numbers
    lnum = ligand.residue_numbers
    nums = None
    if pnum is not None or lnum is not None:
        pnum = pnum if pnum is not None else np.zeros(protein.n_atoms, np.int64)
        lnum = lnum if lnum is not None else np.full(n, 1, np.int64)
        nums = np.concatenate([pnum, lnum])
    return Structure(
        elements=protein.elements + ligand.elements,
        coords=np.concatenate([protein.coords, ligand.coords]),
        bonds=bonds,
        atom_names=cat(protein.atom_names, ligand.atom_names, ""),
        roles=list(protein.roles) + ["ligand"] * n,
        residue_names=cat(protein.residue_names, ligand.residue_names, "LIG"),
        residue_numbers=nums,
        chain_ids=cat(protein.chain_ids, ligand.chain_ids, "L"),
        name=f"{protein.name} + {ligand.name}",
    )
