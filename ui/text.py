"""User text made safe to show with Streamlit's Markdown elements (`pamnet.text.md`)."""

from pamnet.text import md

__all__ = ["md"]
