"""`MolView`: a py3Dmol view plus its legend, for notebooks, Streamlit and files.

The same object is shown in Jupyter (`_repr_html_`) and in the app
(`st.iframe(view.to_html())`), so a view fixed in one is fixed in both. Every
string that reaches the page passes through `pamnet.viz.html`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pamnet.errors import ConfigError, ResourceNotFoundError
from pamnet.structure import Structure
from pamnet.viz import html as H
from pamnet.viz.colors import PROTEIN_GREY
from pamnet.viz.molblock import MODEL_OPTIONS, POLYMER_ROLES, model_text

# Above this many atoms, polymer atoms are drawn as cartoon/lines, not sticks.
LARGE_STRUCTURE = 600
STICK_RADIUS = 0.12
SPHERE_SCALE = 0.22


@dataclass
class MolView:
    """A py3Dmol `view` with an HTML legend.

    view: the `py3Dmol.view` (call its methods to add more). legend_html: safe
    HTML shown under the viewer. title: free text (escaped when shown).
    """

    view: object
    legend_html: str = ""
    title: str = ""
    width: int = 640
    height: int = 480
    meta: dict = field(default_factory=dict)

    def fragment_html(self) -> str:
        """Viewer `<div>` + script + legend, for embedding in a page that has none."""
        viewer = H.harden_py3dmol_html(self.view._make_html())
        caption = (
            f'<div class="pamnet-legend"><b>{H.escape(self.title)}</b></div>' if self.title else ""
        )
        return caption + viewer + self.legend_html

    def to_html(self, inline_js: bool | None = None, script_src: str | None = None) -> str:
        """A complete standalone page (for `st.iframe`, files, e-mail).

        inline_js: None inlines a local 3Dmol.js when `html.find_3dmol_js()` finds
        one, else the page loads it from `html.CDN_3DMOL`; True requires a local
        copy (FileNotFoundError otherwise); False always uses the CDN.
        script_src: load 3Dmol.js from this URL instead (inline_js is then ignored):
        the app serves its vendored copy once, so the browser parses and caches one
        file instead of 525 KiB inlined in every view.
        """
        if script_src is not None:
            head = f'<script src="{H.escape(script_src)}"></script>\n'
            head += "<script>var $3Dmolpromise = Promise.resolve();</script>\n"
            return H.page(self.fragment_html(), title=self.title, head=head)
        head = ""
        path = H.find_3dmol_js() if inline_js is not False else None
        if inline_js and path is None:
            raise ResourceNotFoundError(
                "no local 3Dmol.js to inline: py3Dmol ships none; download 3Dmol-min.js "
                f"and point ${H.ENV_3DMOL_JS} at it, or use inline_js=None to load it from the CDN"
            )
        if path is not None:
            head = H.inline_script(path.read_text(encoding="utf-8"))
            head += "<script>var $3Dmolpromise = Promise.resolve();</script>\n"
        return H.page(self.fragment_html(), title=self.title, head=head)

    def _repr_html_(self) -> str:
        return self.fragment_html()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # py3Dmol's own mime type too, for JupyterLab with its extension.
        html = self.fragment_html()
        return {"application/3dmoljs_load.v0": html, "text/html": html}

    def cylinder_count(self) -> int:
        """Number of `addCylinder` calls in the view's command list."""
        return self.view.startjs.count(".addCylinder(")

    def line_count(self) -> int:
        """Number of `addLine` calls in the view's command list."""
        return self.view.startjs.count(".addLine(")


def new_view(s: Structure, width: int, height: int):
    """A py3Dmol view holding `s` as model 0 (written by `molblock`, not copied)."""
    import py3Dmol

    text, fmt = model_text(s)
    v = py3Dmol.view(width=int(width), height=int(height), js=H.CDN_3DMOL)
    v.addModel(text, fmt, MODEL_OPTIONS)
    v.setStyle({}, {})
    return v


def polymer_mask(s: Structure) -> np.ndarray:
    return np.array([r in POLYMER_ROLES for r in s.roles], dtype=bool)


def draw_atoms(
    v, s: Structure, sticks: np.ndarray, colors: list[str] | None = None, hide_water: bool = True
) -> None:
    """Atom styles: sticks+spheres for `sticks` ([N] bool), cartoon/lines for the rest.

    colors: '#rrggbb' per atom for the stick atoms, else element colours (Jmol).
    Polymer atoms get a grey cartoon (with lines for large structures); water is
    hidden unless it is in `sticks` or `hide_water` is False.
    """
    n = s.n_atoms
    roles = np.array(s.roles)
    polymer = polymer_mask(s)
    if polymer.any():
        v.setStyle({"index": _ids(polymer)}, {"cartoon": {"color": PROTEIN_GREY, "opacity": 0.8}})
        thin = polymer & ~sticks
        if thin.any() and n <= LARGE_STRUCTURE:
            v.addStyle({"index": _ids(thin)}, {"line": {"colorscheme": "Jmol"}})
    rest = ~polymer & ~sticks & (roles != "water" if hide_water else np.ones(n, bool))
    if rest.any():
        v.addStyle({"index": _ids(rest)}, {"line": {"colorscheme": "Jmol"}})
    if not sticks.any():
        return
    if colors is None:
        style = {
            "stick": {"colorscheme": "Jmol", "radius": STICK_RADIUS},
            "sphere": {"colorscheme": "Jmol", "scale": SPHERE_SCALE},
        }
        v.addStyle({"index": _ids(sticks)}, style)
        return
    by_color: dict[str, list[int]] = {}
    for i in np.nonzero(sticks)[0].tolist():
        by_color.setdefault(colors[i], []).append(i)
    for color, ids in by_color.items():
        style = {
            "stick": {"color": color, "radius": STICK_RADIUS},
            "sphere": {"color": color, "scale": SPHERE_SCALE * 1.4},
        }
        v.addStyle({"index": ids}, style)


def stick_atoms(s: Structure, focus: np.ndarray | None) -> np.ndarray:
    """[N] bool: atoms drawn as sticks. Small structures: all non-water atoms;
    large ones: the focus (else ligands) plus everything that is not polymer or water."""
    roles = np.array(s.roles)
    if s.n_atoms <= LARGE_STRUCTURE:
        return roles != "water"
    mask = ~polymer_mask(s) & (roles != "water")
    if focus is not None:
        mask[focus] = True
    return mask


FRAME_MARGIN = 0.8  # zoomTo fits atom centres to the edges: balls and sticks there were cut


def zoom(v, focus: np.ndarray | None) -> None:
    """Fit the view to `focus` (atom indices; None: everything) with a margin around it."""
    if focus is not None and len(focus):
        v.zoomTo({"index": [int(i) for i in focus]})
    else:
        v.zoomTo()
    v.zoom(FRAME_MARGIN)


def _ids(mask: np.ndarray) -> list[int]:
    return np.nonzero(mask)[0].tolist()


def resolve_focus(s: Structure, focus) -> np.ndarray | None:
    """Atom indices of `focus`: None/'all' -> None (everything), 'ligand', 'pocket'
    (ligand + protein atoms within 6 Å of it), or indices / an [N] bool mask."""
    if focus is None or (isinstance(focus, str) and focus == "all"):
        return None
    roles = np.array(s.roles)
    if isinstance(focus, str):
        lig = np.nonzero(roles == "ligand")[0]
        if focus not in ("ligand", "pocket"):
            raise ConfigError(
                f"focus must be 'all', 'ligand', 'pocket' or atom indices, got {focus!r}"
            )
        if len(lig) == 0:
            raise ConfigError("focus='ligand'/'pocket' needs atoms with role 'ligand'")
        if focus == "ligand":
            return lig
        from scipy.spatial import cKDTree

        d, _ = cKDTree(s.coords[lig]).query(s.coords, distance_upper_bound=6.0)
        return np.nonzero((d < 6.0) & (roles != "water"))[0]
    idx = np.asarray(focus)
    if idx.dtype == bool:
        if idx.shape != (s.n_atoms,):
            raise ConfigError(f"focus mask has shape {idx.shape}; expected ({s.n_atoms},)")
        idx = np.nonzero(idx)[0]
    idx = idx.astype(np.int64).reshape(-1)
    if len(idx) and (idx.min() < 0 or idx.max() >= s.n_atoms):
        raise ConfigError(f"focus indices must lie in [0, {s.n_atoms})")
    return np.unique(idx)
