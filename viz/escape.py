"""Text that reaches a Graphviz label, made safe: every user string goes through `html_text`.

The drawings use Graphviz HTML-like labels only (never record labels, whose `|{}<>` syntax
would need a second escaping scheme). In an HTML-like label the text is XML, so escaping the
five XML specials shows quotes, `<script>` and `|{}` literally; backslashes are doubled
because Graphviz would expand `\\N` (the node name) even there;
newlines become line breaks and characters XML forbids are shown as visible escapes.
"""

from __future__ import annotations

import html
import math
import re

__all__ = ["format_number", "html_text"]

# XML 1.0 forbids these control characters even when escaped, so an SVG containing one would not
# parse; they are shown as Python-style escapes instead (tab and newline are handled apart).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _visible_escape(match: re.Match) -> str:
    return f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else "\ufffd"


def html_text(text: object) -> str:
    """Escape any object's `str()` for use inside a Graphviz HTML-like label.

    >>> html_text('a<b> & "c" |{x}|')
    'a&lt;b&gt; &amp; &quot;c&quot; |{x}|'
    >>> html_text("two\\nlines")
    'two<BR/>lines'
    """
    text = str(text)
    # Lone surrogates cannot be encoded as UTF-8 (Graphviz would reject the whole file).
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _FORBIDDEN.sub(_visible_escape, text.replace("\t", "    "))
    text = html.escape(text, quote=True)
    # Graphviz expands \N, \G, ... even inside HTML-like labels (after decoding character
    # references) and turns a doubled backslash into one: doubling keeps it literal.
    text = text.replace("\\", "\\\\")
    # Graphviz collapses whitespace runs in HTML labels; keep the user's spacing visible.
    text = text.replace("  ", "&#160; ")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<BR/>")


def format_number(x: float, digits: int = 4) -> str:
    """A short, exact-looking rendering of a float: NaN and Inf spelled out, 4 significant digits.

    >>> [format_number(v) for v in (3.0, 0.000123456, float("nan"), float("-inf"))]
    ['3', '0.0001235', 'NaN', '-Inf']
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{digits}g}"
