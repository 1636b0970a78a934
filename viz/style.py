"""Every colour, width and font of the drawings, in one place, plus the one legend that
explains them.

Node kinds (parameter, constant, intermediate, output, non-finite) each get a fill and a border;
gradient magnitudes map to an edge colour and width on a log10 scale fitted to the graph being
drawn, so a vanishing path (thin, pale blue) and an exploding one (thick, dark red) stand out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .escape import html_text

__all__ = ["FONT", "KIND_STYLES", "NONFINITE", "GradScale", "KindStyle", "legend_html"]

FONT = "Helvetica"


@dataclass(frozen=True)
class KindStyle:
    """How a data node of one kind looks: table fill, border colour and border width."""

    fill: str
    border: str
    width: int
    description: str


KIND_STYLES = {
    "parameter": KindStyle("#dbe8ff", "#1f4f9f", 2, "parameter (leaf, requires grad)"),
    "constant": KindStyle("#f1f1f1", "#9a9a9a", 1, "constant (no grad)"),
    "op": KindStyle("#ffffff", "#555555", 1, "intermediate"),
    "output": KindStyle("#fff3c4", "#8a6d00", 2, "output"),
}
NONFINITE = KindStyle("#ffe5e5", "#d00000", 3, "NaN / Inf")
OP_FILL = "#eeeeee"
OP_BORDER = "#777777"
CLUSTER_FILLS = ("#f7f9fc", "#eef3fa", "#e5edf7", "#dce6f3")
FOLDED_FILL = "#e8e2f4"
NO_GRAD_COLOR = "#c8c8c8"
ZERO_GRAD_COLOR = "#9a9a9a"

# Sequential palette, small (blue) to large (red): readable on white at every step.
GRAD_PALETTE = ("#9ecae1", "#4292c6", "#08519c", "#fd8d3c", "#e6550d", "#a50f15")


class GradScale:
    """Maps gradient norms to edge colours and widths on a log10 scale spanning the norms seen.

    >>> scale = GradScale([1e-6, 1e-3, 1.0])
    >>> scale.color(1e-6) == GRAD_PALETTE[0], scale.color(1.0) == GRAD_PALETTE[-1]
    (True, True)
    >>> scale.width(1e-6) < scale.width(1.0)
    True
    """

    MIN_WIDTH = 0.7
    MAX_WIDTH = 6.0

    def __init__(self, norms: Iterable[float]):
        logs = [math.log10(n) for n in norms if n > 0 and math.isfinite(n)]
        self.lo = min(logs) if logs else 0.0
        self.hi = max(logs) if logs else 0.0
        self.empty = not logs

    def _fraction(self, norm: float) -> float:
        if self.hi - self.lo < 1e-12:
            return 1.0
        return min(1.0, max(0.0, (math.log10(norm) - self.lo) / (self.hi - self.lo)))

    def color(self, norm: float | None) -> str:
        """Edge colour for a gradient norm (grey when there is no gradient or it is zero,
        the non-finite red when it is NaN or Inf)."""
        if norm is None:
            return NO_GRAD_COLOR
        if not math.isfinite(norm):
            return NONFINITE.border
        if norm == 0:
            return ZERO_GRAD_COLOR
        step = int(self._fraction(norm) * (len(GRAD_PALETTE) - 1) + 0.5)
        return GRAD_PALETTE[step]

    def width(self, norm: float | None) -> float:
        """Edge width (points) for a gradient norm: linear in log10(norm) across the scale."""
        if norm is None or norm == 0:
            return self.MIN_WIDTH
        if not math.isfinite(norm):
            return self.MAX_WIDTH
        return round(self.MIN_WIDTH + self._fraction(norm) * (self.MAX_WIDTH - self.MIN_WIDTH), 2)

    def stops(self) -> list[tuple[str, float]]:
        """(colour, norm at that colour) for each palette step, small to large."""
        n = len(GRAD_PALETTE) - 1
        if self.empty:
            return []
        return [
            (c, 10 ** (self.lo + (self.hi - self.lo) * i / n)) for i, c in enumerate(GRAD_PALETTE)
        ]


def _swatch(fill: str, border: str, text: str, width: int = 1, font_color: str = "#000000") -> str:
    return (
        f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}">'
        f'<FONT POINT-SIZE="9" COLOR="{font_color}">{text}</FONT></TD>'
    )


def _row_of(cells: list[str]) -> str:
    # One cell per legend row, holding its own table: rows of different lengths never have to
    # share a column grid.
    return (
        '<TR><TD><TABLE BORDER="0" CELLSPACING="2"><TR>'
        + "".join(cells)
        + "</TR></TABLE></TD></TR>"
    )


def legend_html(title: str | None, notes: list[str], scale: GradScale | None) -> str:
    """The one legend: the title, notes (folding, hidden nodes), the node kinds and, for a
    gradient-flow drawing, the edge colour scale. Returns an HTML-like label (title escaped).

    >>> legend_html("a <b>", [], None).count("&lt;b&gt;")
    1
    """
    from .escape import format_number

    rows = []
    if title:
        rows.append(f"<TR><TD><B>{html_text(title)}</B></TD></TR>")
    for note in notes:
        rows.append(
            f'<TR><TD><FONT POINT-SIZE="9" COLOR="#444444">{html_text(note)}</FONT></TD></TR>'
        )
    kinds = [
        _swatch(s.fill, s.border, html_text(s.description), s.width) for s in KIND_STYLES.values()
    ]
    kinds.append(_swatch(NONFINITE.fill, NONFINITE.border, "NaN / Inf", NONFINITE.width))
    kinds.append(_swatch(OP_FILL, OP_BORDER, "op (ellipse)"))
    kinds.append(_swatch("#ffffff", "#ffffff", "grad: - = not reached by backward", 0))
    rows.append(_row_of(kinds))
    if scale is not None:
        cells = ['<TD BORDER="0"><FONT POINT-SIZE="9">edge = gradient norm:</FONT></TD>']
        for color, norm in scale.stops():
            cells.append(_swatch(color, color, f"{format_number(norm, 2)}", 1, "#ffffff"))
        cells.append(_swatch(ZERO_GRAD_COLOR, ZERO_GRAD_COLOR, "0", 1, "#ffffff"))
        cells.append(_swatch(NO_GRAD_COLOR, NO_GRAD_COLOR, "no grad"))
        cells.append(_swatch(NONFINITE.border, NONFINITE.border, "NaN/Inf", 1, "#ffffff"))
        rows.append(_row_of(cells))
    return '<<TABLE BORDER="0" CELLSPACING="3" CELLPADDING="3">' + "".join(rows) + "</TABLE>>"


def grad_legend_html(scale: GradScale, note: str = "") -> str:
    """The one gradient-norm legend of the unrolled drawing: the log10 colour and width scale
    of its edges and weight bars, from the smallest norm seen to the largest, and a note.

    >>> "no grad" in grad_legend_html(GradScale([1e-3, 1.0]), "h_t <state>")
    True
    """
    from .escape import format_number

    cells = ['<TD BORDER="0"><FONT POINT-SIZE="9">‖gradient‖ (log scale):</FONT></TD>']
    for color, norm in scale.stops():
        cells.append(_swatch(color, color, f"{format_number(norm, 2)}", 1, "#ffffff"))
    cells.append(_swatch(ZERO_GRAD_COLOR, ZERO_GRAD_COLOR, "0", 1, "#ffffff"))
    cells.append(_swatch(NO_GRAD_COLOR, NO_GRAD_COLOR, "no grad"))
    cells.append(_swatch(NONFINITE.border, NONFINITE.border, "NaN/Inf", 1, "#ffffff"))
    rows = [_row_of(cells)]
    widths = (
        '<TD BORDER="0"><FONT POINT-SIZE="8">thin = small, thick = large; arrows point the '
        "way the gradient flows</FONT></TD>"
    )
    rows.append(f"<TR>{widths}</TR>")
    if note:
        rows.append(
            f'<TR><TD><FONT POINT-SIZE="8" COLOR="#444444">{html_text(note)}</FONT></TD></TR>'
        )
    return '<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="2">' + "".join(rows) + "</TABLE>>"
