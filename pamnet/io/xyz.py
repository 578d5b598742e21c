"""XYZ files: single or multi-frame; bonds perceived from the geometry.

Each frame is a line with the atom count, a comment line, then one line per atom:
element (symbol or atomic number) and x y z in Å; extra columns are ignored.
`key=value` pairs in the comment (extended XYZ) are kept as properties; `charge=`
sets the total charge used for bond perception and `geometry=` the geometry kind.
"""

from __future__ import annotations

import re

import numpy as np

from pamnet.errors import ParseError
from pamnet.io._text import Limits, check_atoms
from pamnet.io.checks import check_structure
from pamnet.structure import Structure, element_or_error

_KV = re.compile(r"""(\w+)=("[^"]*"|'[^']*'|\S+)""")


def _comment_fields(comment: str) -> dict[str, str]:
    return {k: v.strip("\"'") for k, v in _KV.findall(comment)}


def read_xyz(
    lines: list[str], source: str, limits: Limits, charge: int | None = None, perceive: bool = True
) -> list[Structure]:
    """All frames of an XYZ file. `charge` (e) overrides a `charge=` in the comment."""
    out: list[Structure] = []
    i = 0
    n_lines = len(lines)
    while i < n_lines:
        if not lines[i].strip():
            i += 1
            continue
        head = lines[i].split()
        if len(head) != 1 or not head[0].isdecimal():
            raise ParseError(
                f"expected the number of atoms of an XYZ frame, found {lines[i].strip()[:40]!r}",
                line=i + 1,
                source=source,
            )
        n = int(head[0])
        check_atoms(n, limits, source)
        if n == 0:
            raise ParseError("an XYZ frame with 0 atoms", line=i + 1, source=source)
        first = i + 2
        if first + n > n_lines:
            raise ParseError(
                f"the frame announces {n} atoms but the file ends after "
                f"{max(0, n_lines - first)} atom lines",
                line=n_lines,
                source=source,
            )
        comment = lines[i + 1].strip()
        elements, coords = _atoms(lines, first, n, source)
        fields = _comment_fields(comment)
        q = charge if charge is not None else _int_or_zero(fields.get("charge"))
        k = len(out) + 1
        name = fields.get("name") or (
            comment if comment and "=" not in comment and len(comment) <= 80 else ""
        )
        s = Structure(
            elements=elements,
            coords=coords,
            name=name or f"{source.rsplit('/', 1)[-1]}#{k}",
            source=f"{source}#{k}",
            geometry=fields.get("geometry", "file"),
            properties={"comment": comment, **fields},
        )
        if q:
            s.properties["charge"] = str(q)
        if perceive:
            check_structure(s, limits)  # before perception, which assumes sane geometry
            s = s.perceive_bonds(charge=q)
        out.append(s)
        i = first + n
    return out


def _int_or_zero(text: str | None) -> int:
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _atoms(lines: list[str], first: int, n: int, source: str) -> tuple[list[str], np.ndarray]:
    rows = [lines[first + k].split() for k in range(n)]
    for k, row in enumerate(rows):
        if len(row) < 4:
            raise ParseError(
                "an XYZ atom line needs an element and three coordinates (x y z, Å)",
                line=first + k + 1,
                source=source,
            )
    elements = [element_or_error(r[0], first + k + 1, source) for k, r in enumerate(rows)]
    try:
        coords = np.array([r[1:4] for r in rows], dtype=np.float64)
    except ValueError:
        for k, row in enumerate(rows):
            try:
                [float(v) for v in row[1:4]]
            except ValueError:
                raise ParseError(
                    f"coordinates {' '.join(row[1:4])!r} are not numbers",
                    line=first + k + 1,
                    source=source,
                ) from None
        raise
    return elements, coords


def format_xyz(structures: list[Structure]) -> str:
    """XYZ text, one frame per structure; comment = name plus charge/geometry fields."""
    chunks = []
    for s in structures:
        q = int(s.formal_charges.sum())
        name = s.name.replace("\n", " ").strip()
        comment = f'name="{name}" geometry={s.geometry}' + (f" charge={q}" if q else "")
        body = "\n".join(
            f"{e:<2s} {x:16.8f} {y:16.8f} {z:16.8f}"
            for e, (x, y, z) in zip(s.elements, s.coords.tolist())
        )
        chunks.append(f"{s.n_atoms}\n{comment}\n{body}\n")
    return "".join(chunks)
