"""Streamlit-only helpers shared by the app's pages (`pamnet` itself never imports streamlit).

Every page starts with::

    import ui
    sess = ui.page("Structure")   # page config, the shared sidebar, the user's Session

`sess` is the user's `pamnet.session.Session` (current structure(s), task, cutoffs,
checkpoint), kept in `st.session_state` across reruns and pages. Then a page reads
its widgets, calls `pamnet` (through the cached wrappers in `ui.cache` where the
work is slow), and renders. Modules:

- `ui.state`: `session()`, the one `Session` of this browser tab.
- `ui.sidebar`: the sidebar every page shows (structure, checkpoint, device).
- `ui.cache`: `st.cache_resource` / `st.cache_data` wrappers: checkpoints,
  predictors, model inputs, edge counts and views, predictions.
- `ui.inputs`: reading uploads, SMILES, examples and CSV tables into pamnet objects.
- `ui.viewer`: embedding `pamnet.viz` views (3Dmol.js inlined by viz: no network).
- `ui.focus`: when a large complex is drawn around its binding site (`pamnet.featurize.binding_site`).
- `ui.text`: `md()`, user text made inert for Markdown.
"""

from __future__ import annotations

from ui.page import page
from ui.state import session
from ui.text import md

__all__ = ["md", "page", "session"]
