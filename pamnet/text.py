"""User text made inert wherever it is shown or exported: one rule per medium.

Every piece of text that comes from a user or a file (names, titles, column names,
SMILES, units, paths, error messages quoting them) passes through one of these on
its way out:

* `md` for anything Streamlit renders as Markdown (labels, tabs, captions, cards):
  no link, image, HTML or directive can come out of it;
* `csv_safe` for CSV/TSV downloads: no cell starts a spreadsheet formula;
* `sdf_line` / `sdf_key` for SDF titles, data names and values: records always
  round-trip through our reader and RDKit's.

HTML (the 3D viewer, notebook tables) uses `html.escape` at the point it is built.
"""

from __future__ import annotations

import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
# GitHub-flavoured Markdown turns bare URLs, www. names and e-mail addresses into links
# *after* escapes are resolved, so escaping is not enough: a zero-width joiner inside
# the trigger ("http\u2060://", "www\u2060.", "a@\u2060b") keeps the text as written
# on screen and stops the autolink.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp)(:)|\b(www)(\.)|(?<=[\w.+-])(@)(?=[\w-])")
_JOINER = "\u2060"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _break_autolinks(text: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1) + _JOINER + m.group(2)
        if m.group(3):
            return m.group(3) + _JOINER + m.group(4)
        return m.group(5) + _JOINER

    return _AUTOLINK.sub(sub, text)


def md(text: object) -> str:
    """`text` on one line with every ASCII punctuation mark backslash-escaped
    (CommonMark) and URL/e-mail triggers broken by an invisible joiner, so a file name,
    column or SMILES shows as written and never becomes a link, image, HTML or directive."""
    return _PUNCT.sub(r"\\\1", _break_autolinks(" ".join(str(text).split())))


# OWASP: a cell starting with one of these is a formula in Excel, LibreOffice, Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading `'`;
    numbers and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame):
    """A copy of a pandas table whose text cells and column names cannot start a
    spreadsheet formula (`csv_cell`); numeric columns are untouched."""
    from pandas.api.types import is_numeric_dtype

    out = frame.copy()
    for col in out.columns:
        if not is_numeric_dtype(out[col]):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def sdf_line(text: object, limit: int | None = None) -> str:
    """`text` as one SDF line: control characters and line breaks become spaces and a
    `$$$$` (record end) is broken, so the record cannot be split or cut short."""
    line = _CONTROL.sub(" ", str(text)).strip()
    line = line.replace("$$$$", "$$$ $")
    return line[:limit] if limit else line


def sdf_key(text: object) -> str:
    """A data-field name for `>  <name>`: one line, no angle brackets."""
    return sdf_line(text).replace("<", "(").replace(">", ")") or "value"
