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

__all__ = ["LABEL_CHARS", "LABEL_ESCAPED", "clip_text", "format_number", "html_text", "label_text"]

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


# Graphviz rejects a whole drawing when one HTML-like label is longer than 16,384 characters
# (4,000 `&` in a label are 20,000 once escaped). A user string in a label is cut to
# LABEL_CHARS characters and LABEL_ESCAPED escaped ones, whichever is shorter, with an ellipsis:
# a node or title line longer than that is unreadable anyway, and the rest of the label (values,
# gradients, legend) keeps the total well under Graphviz's limit.
LABEL_CHARS = 200
LABEL_ESCAPED = 2000
# No character escapes to more than this many (a tab: four spaces, two "&#160; " pairs).
_MOST_PER_CHAR = 14
_ALWAYS_FITS = min(LABEL_CHARS, LABEL_ESCAPED // _MOST_PER_CHAR)


def clip_text(text: object, chars: int = LABEL_CHARS, escaped: int = LABEL_ESCAPED) -> str:
    """`str(text)`, cut with "…" so that it has at most `chars` characters and `html_text` of it
    at most `escaped` (escaping-aware: `&` counts 5, a tab 14).

    >>> clip_text("short")
    'short'
    >>> clip_text("x" * 500)[-3:], len(clip_text("x" * 500))
    ('xx…', 200)
    >>> len(html_text(clip_text("&" * 4000))), len(html_text(clip_text("&" * 150, escaped=100)))
    (996, 96)
    """
    text = str(text)
    if len(text) <= chars and len(text) * _MOST_PER_CHAR <= escaped:
        return text  # the common case: no escaping needed to know it fits
    if len(text) <= chars and len(html_text(text)) <= escaped:
        return text
    # The longest prefix that fits with the ellipsis (escaped length grows with the prefix).
    low, high = 0, min(len(text), chars - 1)
    while low < high:
        middle = (low + high + 1) // 2
        if len(html_text(text[:middle])) + 1 <= escaped:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"


def label_text(text: object) -> str:
    """`html_text(clip_text(text))`: a user string made safe and short enough for a label.

    >>> label_text("a<b") == html_text("a<b")
    True
    """
    text = str(text)
    if len(text) <= _ALWAYS_FITS:  # the common case, on every label of a 10,000-node drawing
        return html_text(text)
    return html_text(clip_text(text))


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
