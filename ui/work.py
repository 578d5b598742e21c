"""Long work on a page: a progress bar with a Stop button beside it, and explanations of
large structures (seconds), kept in the session rather than in a cache."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui import cache

PROGRESS_ATOMS = 2_000  # larger structures take seconds to explain: progress and Stop


def with_progress(label: str, stop_key: str, on_stop: Callable[[], None], compute):
    """compute(progress) under a progress bar and a Stop button, both gone afterwards.

    progress(fraction, text) updates the bar; a click on Stop (or anywhere) reruns the
    page, which ends this run at its next update (so compute must call progress)."""
    working = st.empty()
    with working.container():
        bar = st.progress(0.0, text=label)
        st.button("Stop", key=stop_key, on_click=on_stop, icon=":material/stop:")
    try:
        return compute(lambda fraction, text: bar.progress(fraction, text=text))
    finally:
        working.empty()


def explanation(ident: tuple, structure, device: str, prefix: str):
    """The explanation of `structure` under ident = (key, checkpoint path, mtime, kw):
    cached when small; above PROGRESS_ATOMS computed with progress and Stop and kept in
    the session (`prefix`.large). Stopped, the page says so, offers to explain, and stops."""
    if structure.n_atoms <= PROGRESS_ATOMS:
        return cache.explanation(*ident, structure, device)
    large, stopped = f"{prefix}.large", f"{prefix}.stopped"
    held = st.session_state.get(large)
    if held is not None and held[0] == ident:
        return held[1]
    if st.session_state.get(stopped) == ident:
        st.info(f"Stopped before the explanation of {structure.n_atoms:,} atoms was done.")
        st.button(
            "Explain", key=f"{prefix}.explain_anyway",
            on_click=lambda: st.session_state.pop(stopped, None),
        )  # fmt: skip
        st.stop()
    exp = with_progress(
        f"Explaining {structure.n_atoms:,} atoms…",
        f"{prefix}.explain_stop",
        lambda: st.session_state.__setitem__(stopped, ident),
        lambda progress: cache.explain_now(*ident[1:], structure, device, progress=progress),
    )
    st.session_state[large] = (ident, exp)
    return exp
