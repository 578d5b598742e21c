"""Embedding `pamnet.viz` views: a standalone page in an iframe.

The app serves the 3Dmol.js that pamnet.viz vendors once, as a static file
(`static/` -> `pamnet/viz/static/`, `server.enableStaticServing` in
`.streamlit/config.toml`): every view loads it from there, so the browser fetches
and compiles it once instead of parsing 525 KiB inlined in each view. Where static
serving is off (the app started without the repository's config), views inline it
as in notebooks. Either way no network is needed, and pamnet.viz escapes every
string from files.
"""

from __future__ import annotations

import streamlit as st

LEGEND_HEIGHT = 90  # px under the viewer for the title and legend rows
# Relative, so it resolves under the page's URL (and any server.baseUrlPath).
SCRIPT_SRC = "app/static/3Dmol-min.js"


def page_html(view) -> str:
    """`view.to_html()` for the app: 3Dmol.js from the static route when it is served."""
    if st.get_option("server.enableStaticServing"):
        return view.to_html(script_src=SCRIPT_SRC)
    return view.to_html()


def embed(html: str, height: int, alt: str = "3D view of the structure") -> None:
    """Show a `page_html(view)` page (already escaped by pamnet.viz) `height` px tall.

    Keep `alt` starting with "3D view": browser tests find viewers by that title."""
    st.iframe(html, height=int(height) + LEGEND_HEIGHT, alt=alt)
