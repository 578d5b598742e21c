"""The sidebar every page shows: current structure, chosen checkpoint, device."""

from __future__ import annotations

import streamlit as st

from pamnet.session import Session
from ui.cache import checkpoints, default_checkpoint, device_label
from ui.text import md


def checkpoint_name(sess: Session, geometry: str | None = None) -> str | None:
    """The checkpoint the user picked if it still exists, else the default one for inputs
    of `geometry` (default: the current structure's), else None."""
    infos = checkpoints()
    if sess.checkpoint in {i.name for i in infos}:
        return sess.checkpoint
    if geometry is None and sess.structure is not None:
        geometry = sess.structure.geometry
    return default_checkpoint(infos, geometry)


_SLOT = "_ui.sidebar.checkpoint"


def show_checkpoint(name: str | None) -> None:
    """Name `name` in the sidebar's checkpoint slot: pages that choose a checkpoint for
    their own input (Predict, Attention) call it, so the sidebar names the model used."""
    slot = st.session_state.get(_SLOT)
    if slot is not None:
        slot.caption(md(name) if name else "None found: predictions are off.")


def sidebar(sess: Session) -> None:
    with st.sidebar:
        st.subheader("Current structure")
        info = sess.summary()
        if info:
            st.markdown(f"**{md(info['name'])}**")
            st.caption(
                f"{md(info['formula'])} · {info['n_atoms']:,} atoms · {info['task']}"
                + (f" · record {info['record']}" if len(sess.structures) > 1 else "")
            )
        else:
            st.caption("None yet: load one on the Structure page.")
        st.subheader("Checkpoint")
        st.session_state[_SLOT] = st.empty()  # a page that picks another fills it again
        show_checkpoint(checkpoint_name(sess))
        st.subheader("Device")
        st.caption(md(device_label()))
