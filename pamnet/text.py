"""User text (file names, CSV columns, SMILES, units) made inert for Markdown."""

from __future__ import annotations

import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md(text: object) -> str:
    """`text` with every ASCII punctuation mark backslash-escaped (CommonMark), so a
    file name or SMILES shows as written and can never become a link, image or HTML."""
    return _PUNCT.sub(r"\\\1", " ".join(str(text).split()))
