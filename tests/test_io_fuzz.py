"""Fuzz: mutated and random bytes into every reader.

Each call must return a list of `Structure` or raise a `PamnetError` subclass (never
another exception), and return within `HANG_S` seconds (a hard alarm, not only
hypothesis's after-the-fact deadline). Each reader gets its own format's file
mutated, lines built from its own keywords, and random bytes and text.
"""

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pamnet.errors import PamnetError
from pamnet.examples import load_example
from pamnet.io import FORMATS, Limits, read, write
from pamnet.structure import Structure
from pamnet.testing import SAMPLE_CIF

# Tokens each format's lines are made of (for lines that look almost right).
VOCAB = {
    "cif": [b"data_x", b"loop_", b"_atom_site.Cartn_x", b"_atom_site.type_symbol", b"ATOM",
            b"HETATM", b"GLY", b"?", b".", b"1", b"A", b";", b"'", b'"'],
    "sdf": [b"$$$$", b"M  END", b"V2000", b"V3000", b"M  CHG", b"M  V30 BEGIN ATOM",
            b"M  V30 END ATOM", b"> <prop>", b"C", b"O", b"0", b"999"],
    "xyz": [b"3", b"0", b"C", b"H", b"Xx", b"1.5", b"-0.0", b"1e5", b"\t"],
    "pdb": [b"ATOM  ", b"HETATM", b"MODEL     1", b"ENDMDL", b"CONECT", b"TER", b"HOH",
            b"  CA ", b"GLY A   1", b"A", b"B", b"0.500"],
    "mol2": [b"@<TRIPOS>MOLECULE", b"@<TRIPOS>ATOM", b"@<TRIPOS>BOND", b"C.3", b"O.co2",
             b"ar", b"1", b"2", b"am", b"0.000"],
    "smiles": [b"C", b"c1", b"ccccc1", b"(", b")", b"=", b"#", b"[Na+]", b".", b"[2H]", b"%10"],
}  # fmt: skip
HANG_S = 30  # hard bound per input: the slowest legal case is a 100-atom SMILES embedding


def _seeds() -> dict[str, bytes]:
    drug = load_example("drugs")[0]
    pocket = load_example("complex")[0]
    near = pocket.select(list(range(60)) + list(range(pocket.n_atoms - 17, pocket.n_atoms)))
    mol2 = b"""@<TRIPOS>MOLECULE
acetate
 7 6 1
SMALL
USER_CHARGES
@<TRIPOS>ATOM
 1 C1  0.00  0.00  0.00 C.3   1 ACT1 -0.20
 2 C2  1.52  0.00  0.00 C.2   1 ACT1  0.70
 3 O1  2.15  1.07  0.00 O.co2 1 ACT1 -0.80
 4 O2  2.15 -1.07  0.00 O.co2 1 ACT1 -0.80
 5 H1 -0.36  1.02  0.00 H     1 ACT1  0.03
 6 H2 -0.36 -0.51  0.88 H     1 ACT1  0.03
 7 H3 -0.36 -0.51 -0.88 H     1 ACT1  0.04
@<TRIPOS>BOND
 1 1 2 1
 2 2 3 ar
 3 2 4 ar
 4 1 5 1
 5 1 6 1
 6 1 7 1
"""
    return {
        "cif": SAMPLE_CIF.encode(),
        "sdf": write(drug, fmt="sdf").encode(),
        "xyz": write(load_example("ethanol"), fmt="xyz").encode(),
        "pdb": write(near, fmt="pdb").encode(),
        "mol2": mol2,
        "smiles": b"CCO ethanol\nc1ccccc1C(=O)N benzamide\n",
    }


SEEDS = _seeds()
LIMITS = Limits(max_bytes=100_000, max_atoms=100)  # bounded work per example
FMTS = [*FORMATS, None]


@st.composite
def mutated(draw, fmt: str):
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "line", "digit"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[pos:]
        elif op == "line" and data:  # duplicate or drop a whole line
            lines = bytes(data).split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines[k:k] = [lines[k]] if draw(st.booleans()) else []
            data = bytearray(b"\n".join(lines))
        elif op == "digit":  # numbers are where parsers are most fragile
            data[pos:pos] = draw(st.sampled_from([b"-", b"9", b"nan", b"1e99", b" ", b"."]))
    return bytes(data)


@st.composite
def keyword_lines(draw, fmt: str):
    """The format's own file with some lines replaced by (or given extra) lines of
    tokens from its vocabulary and numbers: inputs that get deep into the parser."""
    token = st.one_of(
        st.sampled_from(VOCAB[fmt]),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda x: f"{x:.3f}".encode()),
        st.integers(-5, 10**6).map(lambda i: str(i).encode()),
    )
    line = st.lists(token, max_size=12).map(b" ".join)
    lines = SEEDS[fmt].split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(lines) - 1))
        lines[k : k + draw(st.integers(0, 1))] = [draw(line)]  # insert or replace
    return b"\n".join(lines)


@contextmanager
def _hang_alarm(seconds: int):
    def hang(signum, frame):
        raise AssertionError(f"a reader took over {seconds} s on one input (hang)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _check(data: bytes, fmt: str | None) -> None:
    with _hang_alarm(HANG_S):
        try:
            out = read(data, fmt=fmt, name=f"fuzz.{fmt or 'bin'}", limits=LIMITS)
        except PamnetError:
            return
    assert isinstance(out, list) and all(isinstance(s, Structure) for s in out)


FUZZ = settings(
    max_examples=60,
    deadline=None,  # time is bounded by _hang_alarm (hypothesis only reports afterwards)
    derandomize=True,  # the same cases on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_mutated_files(fmt):
    """The format's own file, mutated, into its own reader and into format sniffing."""

    @FUZZ
    @given(data=mutated(fmt), sniff=st.booleans())
    def run(data, sniff):
        _check(data, None if sniff else fmt)

    run()


@pytest.mark.parametrize("fmt", sorted(VOCAB))
def test_lines_of_the_formats_keywords(fmt):
    @FUZZ
    @given(data=keyword_lines(fmt))
    def run(data):
        _check(data, fmt)

    run()


@settings(FUZZ, max_examples=150)
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(FMTS))
def test_random_bytes(data, fmt):
    _check(data, fmt)


@settings(FUZZ, max_examples=150)
@given(text=st.text(max_size=300), fmt=st.sampled_from(FMTS))
def test_random_text(text, fmt):
    _check(text.encode("utf-8"), fmt)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seeds_read_cleanly(fmt):
    assert read(SEEDS[fmt], fmt=fmt, limits=LIMITS)


def test_the_hang_alarm_fires():
    import time

    with pytest.raises(AssertionError, match="hang"), _hang_alarm(1):
        time.sleep(5)
