"""Safe HTML for embedding views in notebooks, Streamlit iframes and files.

Everything that reaches a page goes through one of three doors:

* `escape(text)` for text placed in HTML (titles, legends, captions);
* `js_value(obj)` for data placed in JavaScript: JSON, with `<`, `>` and `&`
  written as `\\u003c`, `\\u003e`, `\\u0026`, so no string can close a `<script>`
  element or open a comment, and non-ASCII (U+2028 included) as `\\uXXXX`;
* `harden_script(js)` for script bodies we did not write ourselves (py3Dmol's
  template): every `</` becomes `<\\/` and `<!--` becomes `<\\!--`, which mean
  the same inside JavaScript strings but can never end the element.

Streamlit's `st.iframe` runs HTML with same-origin access to the app, so text
from uploaded files (names, atom names, residue names, SDF properties, file
names) must only ever pass through these functions.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from pamnet.errors import ConfigError

# Where py3Dmol loads 3Dmol.js from when no local copy is found (needs network).
CDN_3DMOL = "https://cdn.jsdelivr.net/npm/3dmol@2.5.5/build/3Dmol-min.js"
# Set to a local 3Dmol-min.js to inline it into standalone pages (offline use).
ENV_3DMOL_JS = "PAMNET_3DMOL_JS"

_JS_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text: object) -> str:
    """`text` as HTML text or attribute value: `& < > " '` escaped, control chars dropped."""
    return html.escape(_CONTROL.sub("", str(text)), quote=True)


def js_value(obj: object) -> str:
    """`obj` as a JavaScript literal that is safe inside an inline `<script>`."""
    text = json.dumps(obj, ensure_ascii=True, allow_nan=False)
    for ch, safe in _JS_UNSAFE.items():
        text = text.replace(ch, safe)
    return text


def harden_script(js: str) -> str:
    """A script body that cannot end its `<script>` element early."""
    return js.replace("</", "<\\/").replace("<!--", "<\\!--")


def harden_py3dmol_html(fragment: str) -> str:
    """py3Dmol's `<div>...<script>JS</script>` with its script body hardened.

    py3Dmol encodes arguments with plain `json.dumps`, which leaves `</script>`
    inside strings untouched; this closes that hole whatever the arguments were.
    """
    start = fragment.find("<script>")
    end = fragment.rfind("</script>")
    if start < 0 or end < start:
        raise ValueError("not a py3Dmol fragment: no <script> element")  # a bug, not input
    body_start = start + len("<script>")
    return fragment[:body_start] + harden_script(fragment[body_start:end]) + fragment[end:]


def find_3dmol_js() -> Path | None:
    """A local 3Dmol.js to inline, or None (py3Dmol 2.5 ships none; it uses a CDN).

    Looked for in `$PAMNET_3DMOL_JS`, then next to py3Dmol, then `pamnet/viz/static/`.
    """
    candidates: list[Path] = []
    env = os.environ.get(ENV_3DMOL_JS)
    if env:
        candidates.append(Path(env))
    try:
        import py3Dmol

        candidates += sorted(Path(py3Dmol.__file__).parent.glob("3Dmol*.js"))
    except ImportError:  # pragma: no cover - py3Dmol is a runtime requirement
        pass
    candidates += sorted((Path(__file__).parent / "static").glob("3Dmol*.js"))
    return next((p for p in candidates if p.is_file()), None)


def inline_script(js: str) -> str:
    """`<script>` element holding `js` (hardened)."""
    return f"<script>{harden_script(js)}</script>"


def page(body: str, title: str = "", head: str = "") -> str:
    """A complete standalone HTML page around `body` (already safe HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        "<style>body{margin:0;padding:0;font-family:sans-serif;font-size:13px}"
        ".pamnet-legend{margin:4px 8px}</style>\n"
        f"{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def gradient_legend(
    title: str,
    stops: list[tuple[float, str]],
    low_label: str,
    high_label: str,
    swatches: list[tuple[str, str]] | None = None,
) -> str:
    """A small HTML legend: a colour bar from `low_label` to `high_label`.

    stops: (position in [0, 1], '#rrggbb'). swatches: extra (colour, text) rows,
    e.g. the edge colours. All text is escaped here.
    """
    grad = ", ".join(f"{css_color(c)} {100 * float(p):.1f}%" for p, c in stops)
    rows = [
        '<div class="pamnet-legend">',
        f"<div><b>{escape(title)}</b></div>",
        '<div style="display:flex;align-items:center;gap:6px">',
        f"<span>{escape(low_label)}</span>",
        f'<span style="display:inline-block;width:160px;height:12px;'
        f'background:linear-gradient(to right, {grad})"></span>',
        f"<span>{escape(high_label)}</span>",
        "</div>",
    ]
    for color, text in swatches or []:
        rows.append(swatch(color, text))
    rows.append("</div>")
    return "".join(rows)


def swatch(color: str, text: str) -> str:
    """One legend row: a colour square and escaped text."""
    return (
        f'<div><span style="display:inline-block;width:12px;height:12px;'
        f'background:{css_color(color)};margin-right:4px"></span>{escape(text)}</div>'
    )


def css_color(color: str) -> str:
    """`color` if it is '#rgb' or '#rrggbb', else ValueError (keeps CSS/JS injection out)."""
    if not re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", color):
        raise ConfigError(f"colours must be '#rrggbb' strings, got {color!r}")
    return color
