"""PAMNet Studio: `streamlit run app.py`. The landing page; the work is in pages/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

import ui
from pamnet.errors import PamnetError
from ui import cache, inputs
from ui.viewer import embed

PAGES = (  # (file, label, icon); pages not (yet) present are not linked
    (
        "pages/1_Structure.py",
        "Structure: load a molecule and see its two graphs in 3D",
        ":material/biotech:",
    ),
    (
        "pages/2_Predict.py",
        "Predict: properties of one structure or a batch",
        ":material/query_stats:",
    ),
    (
        "pages/3_Attention.py",
        "Attention: which graph each atom listens to",
        ":material/center_focus_strong:",
    ),
    ("pages/4_Fine-tune.py", "Fine-tune: train on your own data", ":material/model_training:"),
    ("pages/5_Learn.py", "Learn: PAMNet step by step", ":material/school:"),
)
PICTURE = ("ethanol", 3.0)  # bundled example and global cutoff (Å) for the picture
ROOT = Path(__file__).resolve().parent

ui.page("PAMNet Studio")
st.title("PAMNet Studio")
text, picture = st.columns([1, 1])
with text:
    st.markdown(
        "Molecules are held together by **local** interactions (covalent bonds and short "
        "contacts, where angles matter) and **non-local** ones (longer-range forces, where "
        "distance is what counts). PAMNet (Zhang, Liu & Xie, *Sci. Rep.* 13:19171, 2023) "
        "models the two in separate message-passing layers, with angles only in the local "
        "one, which keeps it accurate and cheap. Each block then fuses the two per atom "
        "with learned attention, so you can see which kind of interaction an atom relies on."
    )
    st.caption(
        f"Right: {PICTURE[0]}, bonds as solid local edges and atom pairs within "
        f"{PICTURE[1]:g} Å as dashed non-local edges. Drag to rotate."
    )
    st.metric("Device", cache.device_label())
with picture:
    try:
        s = inputs.example(PICTURE[0])[0]
        key = f"example:{PICTURE[0]}#0"
        inp = cache.model_input(key, "molecule", (), s)
        html, drawn = cache.edge_view_html(
            key, "molecule", (), 5.0, PICTURE[1], True, True, 2000, None, s, inp, (440, 340)
        )
        embed(html, drawn["height"], alt="3D view of ethanol with local and non-local edges")
    except (PamnetError, KeyError) as exc:  # a damaged install: say so, keep the page
        st.warning(f"Could not draw the example: {ui.md(exc)}")

st.subheader("Pages")
for path, label, icon in PAGES:
    if (ROOT / path).is_file():
        try:
            st.page_link(path, label=label, icon=icon)
        except StreamlitAPIException:  # added after the server started: not registered yet
            pass

st.subheader("Checkpoints")
infos = cache.checkpoints()
if infos:
    st.dataframe(
        pd.DataFrame(
            {
                "name": i.name,
                "task": i.task,
                "targets": ", ".join(f"{t} [{i.units.get(t, '')}]" for t in i.targets),
                "origin": i.origin,
            }
            for i in infos
        ),
        hide_index=True,
    )
else:
    st.warning(
        "No checkpoint found: predictions are off until one is in `checkpoints/` (or a "
        "fine-tuned one in the data folder). Exploring structures works without one."
    )
