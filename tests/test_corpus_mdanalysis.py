"""Real files from a corpus no one here wrote: the MDAnalysis test data (`mdanalysistests`,
a dev dependency). Every structure file we have a reader for is read or refused with a
typed, one-line reason: no traceback, no hang, and the refusals are the ones expected."""

import importlib.util
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.corpus_counts import structure_files
from pamnet.errors import PamnetError
from pamnet.io import read

pytestmark = pytest.mark.slow


def _corpus() -> Path:
    spec = importlib.util.find_spec("MDAnalysisTests")
    if spec is None or not spec.submodule_search_locations:
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing("needs the MDAnalysis test corpus: pip install -r requirements-dev.txt")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang


# Refused on purpose, with the reason a user should read (file -> words in the message).
EXPECTED_REFUSALS = {
    "RANDOM_WALK_TOPO.pdb": "no atom with a known element",  # every atom is 'X'
    "five.xyz": "unknown element symbol 'A'",  # toy files with made-up elements
    "mini.xyz": "unknown element symbol 'A'",
    "cryst_then_model.pdb.gz": "tar archive",  # tarballs named .gz / .bz2
    "cryst_then_model.pdb.bz2": "tar archive",
    "model_then_cryst.pdb.gz": "tar archive",
    "model_then_cryst.pdb.bz2": "tar archive",
    "BrokenMolecule.mol2": "holds no atoms",
    "nucl_res.pdb": "0.00 Å apart",  # two residues' atoms on top of each other
    "water_methane_acetic-acid_ammonia.pdb": "0.43 Å apart",  # a packed box with a clash
}


def test_every_corpus_file_is_read_or_refused_with_a_one_line_reason():
    root = _corpus()
    files = structure_files(root)
    assert len(files) > 100  # the corpus is there, not an empty folder
    counts: Counter = Counter()
    refused: dict[str, str] = {}
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for path, fmt in files:
            signal.alarm(30)
            try:
                structures = read(path)
                assert structures and all(s.n_atoms > 0 for s in structures)
                counts[fmt, "read"] += 1
            except PamnetError as exc:
                message = str(exc)
                assert message and "\n" not in message and "Traceback" not in message
                refused[path.name] = message
                counts[fmt, "refused"] += 1
            except _Hang:
                pytest.fail(f"{path.relative_to(root)}: still reading after 30 s")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(dict(counts))
    unexpected = {name: msg for name, msg in refused.items() if name not in EXPECTED_REFUSALS}
    assert not unexpected, unexpected
    for name, words in EXPECTED_REFUSALS.items():
        if name in refused:
            assert words in refused[name], (name, refused[name])


def test_what_real_files_needed_reads_with_a_warning_naming_what_was_left_out():
    root = _corpus()
    # TIP4P virtual sites (MW) are no atoms: left out, named
    adk = read(root / "adk_oplsaa.pdb")[0]
    assert "MW" not in adk.elements and any("MW (SOL" in w for w in adk.warnings)
    # mmCIF atoms of element X (UNX) are left out, named
    pti = read(root / "mmcif" / "5PTI.cif.gz")[0]
    assert any("no chemical element" in w for w in pti.warnings)
    # a record repeated at the same coordinates is read once
    dssp = read(root / "dssp" / "3lqcA.pdb.gz")[0]
    assert any("repeat an earlier record" in w and "CG1 (VAL A89" in w for w in dssp.warnings)
    # GAFF atom types (antechamber) are mapped to elements
    gaff = read(root / "mol2" / "Molecule_comments_header.mol2")[0]
    assert "O" in gaff.elements and gaff.n_atoms > 0
