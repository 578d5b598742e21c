"""Embedding `pamnet.viz` views: a standalone page in an iframe.

`MolView.to_html()` inlines the 3Dmol.js that pamnet.viz vendors, so views need no
network, and escapes every string from files.
"""

from __future__ import annotations

import streamlit as st

LEGEND_HEIGHT = 90  # px under the viewer for the title and legend rows


def embed(html: str, height: int, alt: str = "3D view of the structure") -> None:
    """Show a `MolView.to_html()` page (already escaped by pamnet.viz) `height` px tall.

    Keep `alt` starting with "3D view": browser tests find viewers by that title."""
    st.iframe(html, height=int(height) + LEGEND_HEIGHT, alt=alt)
