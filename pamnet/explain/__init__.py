"""Explain and teach: what a PAMNet prediction is made of.

`explain(item, checkpoint)` returns an `Explanation`: fusion attention per block
and atom, exact per-atom and per-block contributions, optional Integrated
Gradients on atom inputs and coordinates, and pandas summaries by
element, functional group, residue and ligand vs pocket. `cost` holds the
numbers behind the Learn page (molecular-mechanics terms, PAMNet vs
DimeNet-style angle cost). No Streamlit here.
"""

from pamnet._callable import make_callable
from pamnet.explain.attribution import BASELINES, Attribution, integrated_gradients
from pamnet.explain.core import attribute, explain
from pamnet.explain.explanation import Explanation
from pamnet.explain.groups import FUNCTIONAL_GROUPS, match_groups

__all__ = [
    "BASELINES",
    "FUNCTIONAL_GROUPS",
    "Attribution",
    "Explanation",
    "attribute",
    "explain",
    "integrated_gradients",
    "match_groups",
]

# `pamnet.explain(...)` works whether the package attribute is this function or this module.
make_callable(__name__, "explain")
