"""`page()`: the first call of every page."""

from __future__ import annotations

import streamlit as st

from pamnet.session import Session
from ui.sidebar import sidebar
from ui.state import session


def page(title: str) -> Session:
    """Set the page config, draw the shared sidebar and return the user's `Session`."""
    # No page_icon: a Material icon there makes the browser fetch the favicon from the web.
    st.set_page_config(page_title=f"{title} · PAMNet Studio", layout="wide")
    sess = session()
    sidebar(sess)
    return sess
