"""Records read and refused per real-world structure file: `python benchmarks/corpus_counts.py`.

Two corpora no one here wrote: the structure files RDKit ships (`RDConfig.RDDataDir`,
`RDConfig.RDContribDir`) and the MDAnalysis test data (`MDAnalysisTests`, a dev
dependency). Prints per file: records, read, failed and the failures by error type,
then a total per corpus and format. A file refused as a whole (a PDB that does not
parse, an archive) counts as one failed record.

Large .smi files are read every k-th line (`SMILES_STEP`): each SMILES is embedded
in 3D, ~0.1 s a molecule. tests/test_corpus_rdkit.py reads the same files.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# every k-th line of these .smi files (the 1st, the (k+1)th, ...); the rest are read whole
SMILES_STEP = {"CHEMBL2321810.smi": 10, "first_5K.smi": 100, "ChEMBL_11265_actives.smi": 2}


def structure_files(root: Path) -> list[tuple[Path, str]]:
    """(file, format) for every file under `root` whose name a reader takes."""
    from pamnet.errors import PamnetError
    from pamnet.io import format_of

    out = []
    for path in sorted(root.rglob("*")):
        try:
            fmt = path.is_file() and format_of(path.name)
        except PamnetError:  # zip archives: refused by name
            continue
        if fmt:
            out.append((path, fmt))
    return out


def rdkit_files() -> list[tuple[Path, str]]:
    """The structure files in RDKit's Data/ and Contrib/ folders (Contrib is absent
    from some RDKit builds)."""
    from rdkit import RDConfig

    roots = [Path(RDConfig.RDDataDir), Path(RDConfig.RDContribDir)]
    return [f for root in roots if root.is_dir() for f in structure_files(root)]


def mdanalysis_root() -> Path | None:
    spec = importlib.util.find_spec("MDAnalysisTests")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def smiles_lines(path: Path, step: int = 1) -> list[str]:
    """The lines of a .smi file that are records (no blank, '#' or header line), every
    `step`-th of them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].split()[:1] and lines[0].split()[0].upper() in ("SMILES", "SMI"):
        lines = lines[1:]
    lines = [x for x in lines if x.strip() and not x.strip().startswith("#")]
    return lines[::step]


def readable(path: Path, fmt: str, workdir: Path) -> Path:
    """`path`, or for a .smi file in `SMILES_STEP` a copy of its subset in `workdir`."""
    if fmt != "smiles" or path.name not in SMILES_STEP:
        return path
    copy = workdir / path.name
    copy.write_text("\n".join(smiles_lines(path, SMILES_STEP[path.name])) + "\n", encoding="utf-8")
    return copy


def record_count(path: Path, fmt: str) -> int | None:
    """Records in the file by its own delimiters ('$$$$' for SDF, a line for SMILES,
    @<TRIPOS>MOLECULE for MOL2), or None for formats without them."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    if fmt == "sdf":
        ends = sum(x.startswith("$$$$") for x in lines)
        tail = text.rsplit("$$$$", 1)[-1].strip() if ends else text.strip()
        return ends + bool(tail)  # a MOL file, or a last record without '$$$$'
    if fmt == "smiles":
        return len(smiles_lines(path))
    if fmt == "mol2":
        return sum(x.strip().upper() == "@<TRIPOS>MOLECULE" for x in lines)
    return None


@dataclass
class Tally:
    records: int = 0
    read: int = 0
    reasons: Counter = field(default_factory=Counter)  # error type -> failed records
    whole_file: bool = False  # refused as a whole (counted as one failed record)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.reasons.values())


def tally(path: Path) -> tuple[Tally, list]:
    """Read `path` record by record: the counts and the `Record`s ([] when the file is
    refused as a whole)."""
    from pamnet.errors import PamnetError
    from pamnet.io import read_records

    t = Tally()
    start = time.perf_counter()
    try:
        records = read_records(path)
    except PamnetError as exc:
        t.records, t.whole_file = 1, True
        t.reasons[type(exc).__name__] += 1
        records = []
    for r in records:
        t.records += 1
        if r.ok:
            t.read += 1
        else:
            t.reasons[type(r.error).__name__] += 1
    t.seconds = time.perf_counter() - start
    return t, records


def _row(name: str, t: Tally) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in t.reasons.most_common()) or "-"
    note = " (file refused)" if t.whole_file else ""
    return f"  {name:48s} {t.records:6d} {t.read:6d} {t.failed:6d}  {reasons}{note}"


def report(corpus: str, root: Path, files: list[tuple[Path, str]], workdir: Path) -> None:
    print(f"{corpus}  ({root})")
    print(f"  {'file':48s} {'records':>6s} {'read':>6s} {'failed':>6s}  failures by type")
    totals: dict[str, Tally] = {}
    for path, fmt in files:
        t, _ = tally(readable(path, fmt, workdir))
        step = SMILES_STEP.get(path.name, 1) if fmt == "smiles" else 1
        name = str(path.relative_to(root)) + (f" (1 line in {step})" if step > 1 else "")
        print(_row(name, t), flush=True)
        total = totals.setdefault(fmt, Tally())
        total.records += t.records
        total.read += t.read
        total.reasons.update(t.reasons)
        total.seconds += t.seconds
    print(f"  {'total by format':48s}")
    for fmt, t in sorted(totals.items()):
        print(_row(f"{fmt} ({t.seconds:.1f} s)", t))
    print()


def main() -> None:
    import tempfile

    from rdkit import RDConfig

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(RDConfig.RDDataDir).parent
        report("RDKit Data/ and Contrib/", root, rdkit_files(), Path(tmp))
        mda = mdanalysis_root()
        if mda is None:
            print("MDAnalysisTests is not installed: pip install -r requirements-dev.txt")
            sys.exit(1)
        report("MDAnalysisTests data", mda, structure_files(mda), Path(tmp))


if __name__ == "__main__":
    main()
