"""The user's `Session`, created once per browser tab in `st.session_state`."""

from __future__ import annotations

import streamlit as st

from pamnet.session import Session

KEY = "pamnet_session"


def session() -> Session:
    """This tab's `Session` (created on first use, then the same object every rerun)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = Session()
    return st.session_state[KEY]
