"""Fuzz: mutated and random bytes into every reader.

Each call must return a list of `Structure` or raise a `PamnetError` subclass (never
another exception), within a per-example deadline.
"""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pamnet.errors import PamnetError
from pamnet.examples import load_example
from pamnet.io import FORMATS, Limits, read, write
from pamnet.structure import Structure


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
def mutated(draw):
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
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


def _check(data: bytes, fmt: str | None) -> None:
    try:
        out = read(data, fmt=fmt, name=f"fuzz.{fmt or 'bin'}", limits=LIMITS)
    except PamnetError:
        return
    assert isinstance(out, list) and all(isinstance(s, Structure) for s in out)


FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    derandomize=True,  # the same cases on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@FUZZ
@given(data=mutated(), fmt=st.sampled_from(FMTS))
def test_mutated_files(data, fmt):
    _check(data, fmt)


@FUZZ
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(FMTS))
def test_random_bytes(data, fmt):
    _check(data, fmt)


@FUZZ
@given(text=st.text(max_size=300), fmt=st.sampled_from(FMTS))
def test_random_text(text, fmt):
    _check(text.encode("utf-8"), fmt)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seeds_read_cleanly(fmt):
    assert read(SEEDS[fmt], fmt=fmt, limits=LIMITS)
