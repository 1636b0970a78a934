"""Small self-contained SVG charts of gradients through time (no matplotlib, no JavaScript).

`chart_svg` draws ||dL/dh_t|| for every time step as bars on a log scale, with the reference
line c * rho^(T-t) that the eigenvalue argument predicts (h_t = W^t h_0 = sum_i a_i lambda_i^t
w_i, so the gradient carried back over T - t steps scales like rho^(T-t), rho the spectral
radius of W_hh: rho > 1 explodes, rho < 1 vanishes), and, when gradients were clipped, the
norms after `clip_grad_norm_` beside the ones before.

The chart is made to be animated by a page without redrawing it. Every per-step element has a
stable id and says which step it shows:

- `{prefix}bar-{t}`: the bar of step t (class `gf-bar`), `{prefix}bar-after-{t}` its clipped
  twin (class `gf-after`), `{prefix}value-{t}` the numbers above them (class `gf-value`, one
  `<tspan>` per bar), and `{prefix}tick-{t}` its tick label when shown;
- each of them carries `data-step="{t}"` and the class `gf-step`;
- class `gf-pending` draws a bar as a dashed outline and hides its number ("not yet reached");
  class `gf-current` outlines the step being processed.

`reached=` marks the pending steps when the chart is drawn; a page that steps through the
backward pass toggles `gf-pending` / `gf-current` on `[data-step="t"]` as the pass goes. The
style rules live in the SVG's own `<style>` and only name `gf-` classes, so the chart can be
inlined in any page. All text is XML-escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Sequence

__all__ = ["CHART_CSS", "chart_svg", "stack_svgs"]

BAR = "#3b7dc4"
AFTER = "#f08c2e"
REFERENCE = "#b2182b"
CUT = "#c0392b"
NONFINITE = "#d00000"
AXIS = "#444444"
GRID = "#e4e4e4"
FONT = "Helvetica, Arial, sans-serif"

CHART_CSS = (
    ".gf-bar{fill:#3b7dc4}.gf-after{fill:#f08c2e}.gf-nonfinite{fill:#d00000}"
    ".gf-pending.gf-bar,.gf-pending.gf-after,.gf-pending.gf-nonfinite"
    "{fill:#ffffff;fill-opacity:0;stroke:#9a9a9a;stroke-width:1;stroke-dasharray:3 2}"
    ".gf-pending.gf-value{visibility:hidden}"
    ".gf-current.gf-bar,.gf-current.gf-after{stroke:#111111;stroke-width:2.5}"
    ".gf-current.gf-tick{font-weight:bold;fill:#111111}"
)

# XML 1.0 forbids these characters even as references: shown as visible escapes instead.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _text(value: object) -> str:
    """Any object's str(), safe as SVG text or attribute value."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    text = _FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return html.escape(text, quote=True)


def _number(x: float) -> str:
    """Two significant digits: 0.53, 12, 3.1e-05 (short enough to sit above a bar)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.2g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _decade(exponent: int) -> str:
    """Tick label of 10**exponent: plain numbers near 1, powers of ten beyond."""
    if -2 <= exponent <= 3:
        return f"{10.0**exponent:g}"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `raw`."""
    if raw <= 1:
        return 1
    decade = 10 ** math.floor(math.log10(raw))
    return next(int(m * decade) for m in (1, 2, 5, 10) if m * decade >= raw)


def _wrap_text(text: str, width: float) -> list[str]:
    """Split a note into lines of at most `width` characters, at spaces."""
    lines, line = [], ""
    for word in str(text).split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines


def _finite_positive(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v) and v > 0]


def _clip_segment(x0, y0, x1, y1, left, top, right, bottom):
    """Liang-Barsky: the part of segment (x0, y0)-(x1, y1) inside the box, or None."""
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - left), (dx, right - x0), (-dy, y0 - top), (dy, bottom - y0)):
        if p == 0:
            if q < 0:
                return None
            continue
        r = q / p
        if p < 0:
            lo = max(lo, r)
        else:
            hi = min(hi, r)
        if lo > hi:
            return None
    return x0 + lo * dx, y0 + lo * dy, x0 + hi * dx, y0 + hi * dy


def _panel(
    steps: Sequence[int],
    norms: Sequence[float],
    *,
    rho: float | None,
    rho_label: str,
    after: Sequence[float] | None,
    after_label: str,
    reached: Collection[int] | None,
    title: str,
    notes: Sequence[str],
    id_prefix: str,
    ylabel: str,
    reverse: bool,
    cuts: Collection[int],
) -> tuple[list[str], int, int]:
    """The chart's elements (without the <svg> root), its width and its height."""
    count = len(steps)
    plot_w = int(min(1000, max(380, 44 * count)))
    left, right = 78, 24
    notes = [
        line for note in notes for line in _wrap_text(note, (left + plot_w + right - 90) // 6.4)
    ]
    top = 58 + 16 * max(0, len(notes) - 1)
    plot_h = 200
    bottom_area = 82
    width, height = left + plot_w + right, top + plot_h + bottom_area
    out: list[str] = []

    values = list(norms) + (list(after) if after is not None else [])
    positive = _finite_positive(values)
    if positive:
        # A little room below the smallest bar and above the largest (for its number).
        lo_exp = math.floor(math.log10(min(positive)) - 0.25)
        hi_exp = math.ceil(math.log10(max(positive)) + 0.15)
    else:
        lo_exp, hi_exp = -1, 1
    if hi_exp - lo_exp < 1:
        hi_exp = lo_exp + 1
    span = hi_exp - lo_exp

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (math.log10(v) - lo_exp) / span)

    slot = plot_w / max(count, 1)

    def x_mid(i: int) -> float:
        return left + slot * (i + 0.5)

    # Title and notes.
    out.append(
        f'<text x="{left}" y="22" font-size="15" font-weight="bold" fill="#222">'
        f"{_text(title)}</text>"
    )
    for k, note in enumerate(notes):
        out.append(
            f'<text x="{left}" y="{42 + 16 * k}" font-size="12" fill="#444">{_text(note)}</text>'
        )

    # Grid and y axis: one line per decade (fewer labels when the range is wide), and 2 and 5
    # times each decade when the range spans two decades or less.
    label_every = max(1, math.ceil(span / 8))
    if span <= 2:
        for e in range(lo_exp, hi_exp):
            for m in (2, 5):
                y = y_of(m * 10.0**e)
                out.append(
                    f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="1" stroke-dasharray="2 3"/>'
                    f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                    f'fill="#777">{_text(f"{m * 10.0**e:g}")}</text>'
                )
    for e in range(lo_exp, hi_exp + 1):
        y = y_of(10.0**e)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        if (e - lo_exp) % label_every == 0 or e == hi_exp:
            out.append(
                f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="12" text-anchor="end" '
                f'fill="{AXIS}">{_text(_decade(e))}</text>'
            )
    out.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="{AXIS}"/>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="{AXIS}"/>'
    )
    mid_y = top + plot_h / 2
    out.append(
        f'<text x="18" y="{mid_y:.1f}" font-size="12" text-anchor="middle" fill="{AXIS}" '
        f'transform="rotate(-90 18 {mid_y:.1f})">{_text(ylabel)}</text>'
    )

    # Bars: one per step; with clipping, before and after side by side.
    paired = after is not None
    bar_w = slot * (0.4 if paired else 0.68)
    gap = slot * 0.04
    show_values = slot >= 34
    tick_every = _nice_step(count / 16)
    base = top + plot_h

    def bar_top(value: float) -> float:
        if not math.isfinite(value):
            return top  # NaN / Inf fill the plot's height
        return y_of(value) if value > 0 else base - 2  # zero: a stub on the axis

    for i, (t, v) in enumerate(zip(steps, norms)):
        pending = reached is not None and t not in reached
        state = " gf-pending" if pending else ""
        step_attr = f'data-step="{int(t)}"'
        series = [(v, "gf-bar", f"{id_prefix}bar-{t}")]
        if paired:
            series.append((after[i], "gf-after", f"{id_prefix}bar-after-{t}"))
        labels, x_of_bar = [], []
        for j, (value, cls, element_id) in enumerate(series):
            labels.append(value)
            if paired:
                x = x_mid(i) - bar_w - gap / 2 if j == 0 else x_mid(i) + gap / 2
            else:
                x = x_mid(i) - bar_w / 2
            x_of_bar.append(x)
            y = bar_top(value)
            if not math.isfinite(value):
                cls += " gf-nonfinite"
            h = max(base - y, 1.0)
            out.append(
                f'<rect id="{_text(element_id)}" class="gf-step {cls}{state}" {step_attr} '
                f'x="{x:.2f}" y="{base - h:.2f}" width="{bar_w:.2f}" height="{h:.2f}">'
                f"<title>t={int(t)}: {_text(_number(value))}</title></rect>"
            )
        # Numbers above the bars when there is room; zeros and NaN/Inf are always labelled,
        # since a log scale cannot show them as heights. One <text> per step (`value-t`), a
        # <tspan> per bar, so a page toggles a step's numbers with one element.
        spans = []
        for j, value in enumerate(labels):
            if not (show_values or value == 0 or not math.isfinite(value)):
                continue
            if j > 0 and bar_w < 26:
                continue
            cx = (x_of_bar[j] + bar_w / 2) if paired else x_mid(i)
            spans.append(
                f'<tspan x="{cx:.1f}" y="{max(bar_top(value) - 5, top - 4):.1f}">'
                f"{_text(_number(value))}</tspan>"
            )
        if spans:
            out.append(
                f'<text id="{_text(id_prefix)}value-{t}" class="gf-step gf-value{state}" '
                f'{step_attr} font-size="11" text-anchor="middle" fill="#222">'
                + "".join(spans)
                + "</text>"
            )
        last_gap = (count - 1) % tick_every
        if i % tick_every == 0 or (i == count - 1 and last_gap > tick_every / 2):
            out.append(
                f'<text id="{_text(id_prefix)}tick-{t}" class="gf-step gf-tick" {step_attr} '
                f'x="{x_mid(i):.1f}" y="{base + 16}" font-size="12" text-anchor="middle" '
                f'fill="{AXIS}">{int(t)}</text>'
            )
    # Truncation cuts: a dashed line between step t and the next, where no gradient crosses.
    position = {int(t): i for i, t in enumerate(steps)}
    for t in cuts:
        if int(t) in position and position[int(t)] < count - 1:
            x = left + slot * (position[int(t)] + 1)
            out.append(
                f'<line class="gf-cut" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" '
                f'stroke="{CUT}" stroke-width="2" stroke-dasharray="5 3"/>'
                f'<text x="{x:.1f}" y="{top - 4}" font-size="11" text-anchor="middle" '
                f'fill="{CUT}">detach</text>'
            )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{base + 34}" font-size="12" '
        f'text-anchor="middle" fill="{AXIS}">time step t  (the backward pass runs from '
        f"{'left to right' if reverse else 'right to left'})</text>"
    )

    # The reference rho^(T-t), anchored where the backward pass starts (the last step with a
    # positive finite norm; the first for a reverse direction), one line per stretch between
    # truncation cuts since each restarts the pass: straight on the log scale, cut to the plot
    # box by hand (no clipPath ids to collide).
    legend = [("rect", BAR, "||dL/dh_t||" if not paired else "||dL/dh_t|| before clipping")]
    if paired:
        legend.append(("rect", AFTER, after_label))
    if rho is not None and math.isfinite(rho) and rho > 0 and count >= 2:
        bounds = sorted(position[int(t)] for t in cuts if int(t) in position)
        stretches = [
            (lo, hi)
            for lo, hi in zip([0] + [b + 1 for b in bounds], bounds + [count - 1])
            if hi > lo
        ]
        drawn = False
        for lo, hi in stretches:
            order = range(lo, hi + 1) if reverse else range(hi, lo - 1, -1)
            anchor = next((i for i in order if math.isfinite(norms[i]) and norms[i] > 0), None)
            if anchor is None:
                continue

            def log_ref(i: int, anchor: int = anchor) -> float:
                back = (i - anchor) if reverse else (anchor - i)  # steps back from the anchor
                return math.log10(norms[anchor]) + back * math.log10(rho)

            def y_log(lv: float) -> float:
                return top + plot_h * (1 - (lv - lo_exp) / span)

            seg = _clip_segment(
                x_mid(lo),
                y_log(log_ref(lo)),
                x_mid(hi),
                y_log(log_ref(hi)),
                left,
                top,
                left + plot_w,
                base,
            )
            if seg is not None:
                drawn = True
                out.append(
                    f'<line class="gf-ref" x1="{seg[0]:.1f}" y1="{seg[1]:.1f}" '
                    f'x2="{seg[2]:.1f}" y2="{seg[3]:.1f}" stroke="{REFERENCE}" '
                    'stroke-width="2" stroke-dasharray="7 4"/>'
                )
        if drawn or stretches:
            legend.append(("line", REFERENCE, f"∝ ρ^(T−t), {rho_label} = {rho:.3g}"))

    # Legend, below the axis title, wrapped to the chart's width (about 6.5 px a character).
    x, y = left, base + 58
    for kind, colour, label in legend:
        item_w = 40 + int(6.5 * len(label))
        if x > left and x + item_w > width - right:
            x, y = left, y + 18
        if kind == "rect":
            out.append(f'<rect x="{x}" y="{y - 10}" width="14" height="12" fill="{colour}"/>')
        else:
            out.append(
                f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{colour}" '
                'stroke-width="2" stroke-dasharray="7 4"/>'
            )
        out.append(f'<text x="{x + 28}" y="{y}" font-size="12" fill="#222">{_text(label)}</text>')
        x += item_w
    height = max(height, y + 14)
    return out, width, height


def _wrap(body: list[str], width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}">'
        f"<style>{CHART_CSS}</style>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def chart_svg(
    steps: Sequence[int],
    norms: Sequence[float],
    *,
    rho: float | None = None,
    rho_label: str = "ρ(W_hh)",
    after: Sequence[float] | None = None,
    after_label: str = "after clip_grad_norm_",
    reached: Collection[int] | None = None,
    title: str = "Gradient norm per time step",
    notes: Sequence[str] = (),
    id_prefix: str = "",
    ylabel: str = "||dL/dh_t|| (log scale)",
    reverse: bool = False,
    cuts: Collection[int] = (),
) -> str:
    """An SVG bar chart of gradient norms per time step on a log scale.

    `rho` adds the dashed reference c * rho^(T-t) through the last step's bar; `after` (one
    number per step) adds the norms after clipping beside the bars; `reached` (a set of steps)
    draws every other step as a dashed outline (class `gf-pending`), for a page that fills the
    bars in as the backward pass reaches them. `reverse=True` is for a reverse direction, whose
    backward pass runs from the first step to the last (the reference is anchored at t = 0).
    `cuts` (steps t) draws a dashed "detach" line between t and the next step (truncated BPTT).
    Zeros sit on the axis as a stub labelled 0; NaN
    and Inf fill the plot's height in red. See the module docstring for the element ids.

    >>> svg = chart_svg([0, 1, 2], [4.0, 2.0, 1.0], rho=0.5, reached={2})
    >>> svg.count('class="gf-step gf-bar'), 'id="bar-2" class="gf-step gf-bar"' in svg
    (3, True)
    >>> 'id="bar-0" class="gf-step gf-bar gf-pending"' in svg, "ρ(W_hh) = 0.5" in svg
    (True, True)
    """
    steps, norms = list(steps), [float(v) for v in norms]
    if len(steps) != len(norms):
        raise ValueError(f"chart_svg: {len(steps)} steps but {len(norms)} norms")
    if after is not None:
        after = [float(v) for v in after]
        if len(after) != len(norms):
            raise ValueError(f"chart_svg: {len(norms)} norms but {len(after)} after clipping")
    body, width, height = _panel(
        steps,
        norms,
        rho=rho,
        rho_label=rho_label,
        after=after,
        after_label=after_label,
        reached=None if reached is None else set(reached),
        title=title,
        notes=list(notes),
        id_prefix=id_prefix,
        ylabel=ylabel,
        reverse=reverse,
        cuts=cuts,
    )
    return _wrap(body, width, height)


def stack_svgs(svgs: Sequence[str]) -> str:
    """Several charts from `chart_svg`, one above the other, as one SVG (a layer's two
    directions, or two layers). Each keeps its ids, so give each its own `id_prefix`.

    >>> two = stack_svgs([chart_svg([0], [1.0], id_prefix="a-"), chart_svg([0], [2.0])])
    >>> two.count("<svg"), 'id="a-bar-0"' in two and 'id="bar-0"' in two
    (3, True)
    """
    if len(svgs) == 1:
        return svgs[0]
    parts, y, width = [], 0, 0
    for svg in svgs:
        w = int(re.search(r'width="(\d+)"', svg).group(1))
        h = int(re.search(r'height="(\d+)"', svg).group(1))
        parts.append(svg.replace("<svg ", f'<svg x="0" y="{y}" ', 1))
        y, width = y + h, max(width, w)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'viewBox="0 0 {width} {y}">' + "".join(parts) + "</svg>"
    )
