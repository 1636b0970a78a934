"""One self-contained HTML page that steps through the backward pass (`viz.save_stepper`).

The page holds the unrolled layout's SVG (rendered once), the gradient-flow chart's SVG
(`viz.flow.GradientFlow.svg`) and the frames as JSON in a non-executable
`<script type="application/json">` block; a small fixed script (ours, never built from the data)
replays the per-frame class changes onto the SVG. No network, no CDN: it works from `file://`.
Every user string reaches the page escaped: the SVGs escape their labels, the JSON escapes
`<`, `>`, `&` and U+2028/U+2029, and the script only ever writes text with `textContent`.

In Jupyter, `Stepper` shows the same page inline inside an `<iframe srcdoc=...>`, so several
steppers on one notebook page keep their element ids and scripts apart.
"""

from __future__ import annotations

import html
import json
import re

from tinygrad_lite.safe_io import write_file

from .frames import FRAME_CSS, BPTTFrames, node_name
from .timeline import parse_time_scope

__all__ = ["Stepper", "save_stepper", "stepper_html"]

PAGE_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 12px; color: #222; }
h1 { font-size: 18px; margin: 0 0 6px 0; }
#controls { display: flex; align-items: center; gap: 8px; margin: 6px 0; flex-wrap: wrap; }
#controls button { font-size: 14px; padding: 4px 10px; }
#slider { width: 320px; }
#frame-index { font-weight: bold; min-width: 90px; }
#description { background: #f6f6f6; border-left: 4px solid #d62728; padding: 8px 10px;
  margin: 6px 0; min-height: 3em; font-size: 14px; line-height: 1.4; max-width: 1400px; }
#main { display: flex; gap: 12px; align-items: flex-start; }
#graph { flex: 1 1 auto; min-width: 0; overflow: auto; border: 1px solid #ddd;
  max-height: 85vh; }
#graph svg { display: block; }
#graph.fit svg { width: 100%; height: auto; }
#graph g.rowlabel text, #graph g.weight_row text { paint-order: stroke; stroke: #fff;
  stroke-width: 4px; stroke-linejoin: round; }
#side { flex: 0 0 420px; }
#chart svg { max-width: 100%; height: auto; }
#accum table { border-collapse: collapse; font-size: 13px; width: 100%; }
#accum td, #accum th { border-bottom: 1px solid #eee; padding: 2px 6px; text-align: left; }
#legend { font-size: 12px; color: #444; margin: 4px 0 8px 0; }
.key { display: inline-block; width: 12px; height: 12px; vertical-align: middle;
  margin: 0 3px 0 10px; border: 1px solid #888; }
"""

# The page's only script: fixed text, reads the JSON block, writes text with textContent.
PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("stepper-data").textContent);
  var n = data.desc.length;
  var graph = document.getElementById("graph");
  var chart = document.getElementById("chart");
  var slider = document.getElementById("slider");
  var index = document.getElementById("frame-index");
  var desc = document.getElementById("description");
  var play = document.getElementById("play");
  var accumBody = document.getElementById("accum-body");
  var TL = ["tl-pending", "tl-partial", "tl-done", "tl-current", "tl-sent", "tl-now"];
  var els = {};
  data.ids.forEach(function (id) {
    var el = document.getElementById(id);
    if (el && graph.contains(el)) { els[id] = el; }
  });
  function chartEls(barId) {
    var out = [];
    var ids = [barId, barId.replace("bar-", "bar-after-"), barId.replace("bar-", "value-")];
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el && chart.contains(el)) { out.push(el); }
    });
    return out;
  }
  var bars = Object.keys(data.bars).map(function (id) { return [chartEls(id), data.bars[id]]; });
  var current = 0, timer = null;
  function show(k) {
    k = Math.max(0, Math.min(n - 1, k));
    current = k;
    var state = {};
    data.ids.forEach(function (id) { state[id] = "tl-pending"; });
    for (var j = 0; j <= k; j++) {
      data.changes[j].forEach(function (c) { state[c[0]] = data.classes[c[1]]; });
    }
    data.current[k].forEach(function (id) { state[id] = "tl-current"; });
    data.now[k].forEach(function (id) { state[id] = "tl-now"; });
    Object.keys(els).forEach(function (id) {
      var el = els[id];
      TL.forEach(function (c) { el.classList.remove(c); });
      el.classList.add(state[id]);
    });
    var cur = {};
    data.chartCurrent[k].forEach(function (id) { cur[id] = true; });
    bars.forEach(function (b) {
      var filled = b[1] !== null && b[1] <= k;
      b[0].forEach(function (el) {
        el.classList.toggle("gf-pending", !filled);
        el.classList.toggle("gf-current", !!cur[el.id]);
      });
    });
    reveal(k);
    slider.value = String(k);
    index.textContent = (k + 1) + " / " + n;
    desc.textContent = data.desc[k];
    while (accumBody.firstChild) { accumBody.removeChild(accumBody.firstChild); }
    data.accum[k].forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = String(cell);
        tr.appendChild(td);
      });
      accumBody.appendChild(tr);
    });
  }
  // Keep the current item in view: the start shows the drawing from its top-left corner (the
  // title, the legend, the row labels); later frames scroll only when the item is out of view,
  // and only as far as it needs, so the left part stays in view whenever the item allows.
  function reveal(k) {
    if (k === 0) { graph.scrollLeft = 0; graph.scrollTop = 0; return; }
    var focus = els[data.current[k][0]];
    if (!focus || !focus.getBoundingClientRect) { return; }
    var g = graph.getBoundingClientRect(), r = focus.getBoundingClientRect(), m = 40;
    var w = graph.clientWidth, h = graph.clientHeight;
    if (r.right > g.left + w - m) { graph.scrollLeft += r.right - (g.left + w - m); }
    else if (r.left < g.left + m) {
      // the pass runs right to left: bring the item in near the right, the next steps beside it
      graph.scrollLeft -= Math.max((g.left + m) - r.left, (g.left + 0.75 * w) - r.right);
    }
    if (r.bottom > g.top + h - m) { graph.scrollTop += r.bottom - (g.top + h - m); }
    else if (r.top < g.top + m) { graph.scrollTop -= (g.top + m) - r.top; }
  }
  // The row labels (layer, inputs, each weight's panel row) stay at the pane's left edge while
  // the drawing scrolls sideways, so a student always knows which row is which.
  var svgEl = graph.querySelector("svg");
  var rowLabels = Array.prototype.slice.call(graph.querySelectorAll("g.rowlabel, g.weight_row"));
  function stick() {
    var vb = svgEl && svgEl.viewBox ? svgEl.viewBox.baseVal : null;
    if (!vb || !vb.width) { return; }
    var dx = graph.scrollLeft * vb.width / svgEl.getBoundingClientRect().width;
    rowLabels.forEach(function (el) {
      if (dx > 0) { el.setAttribute("transform", "translate(" + dx.toFixed(1) + ",0)"); }
      else { el.removeAttribute("transform"); }
    });
  }
  graph.addEventListener("scroll", stick);
  var zoom = document.getElementById("zoom");
  zoom.addEventListener("click", function () {
    var fit = graph.classList.toggle("fit");
    zoom.textContent = fit ? "Zoom: 100%" : "Zoom: fit width";
    reveal(current);
  });
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "\u25B6 Play";
  }
  function start() {
    if (current >= n - 1) { show(0); }
    play.textContent = "\u23F8 Pause";
    timer = setInterval(function () {
      if (current >= n - 1) { stop(); return; }
      show(current + 1);
    }, data.interval);
  }
  function by(delta) { return function () { stop(); show(current + delta); }; }
  document.getElementById("prev").addEventListener("click", by(-1));
  document.getElementById("next").addEventListener("click", by(1));
  play.addEventListener("click", function () { if (timer === null) { start(); } else { stop(); } });
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight") { stop(); show(current + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { stop(); show(current - 1); ev.preventDefault(); }
  });
  show(0);
})();
"""

# No network at all: nothing but the page's own inline style and script may load.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
_CLASSES = ["tl-pending", "tl-partial", "tl-done", "tl-current", "tl-sent", "tl-now"]


def json_for_script(value) -> str:
    """JSON safe inside `<script type="application/json">`: `<`, `>`, `&` and the line
    separators U+2028/U+2029 become `\\u` escapes, so `</script>` in a name stays text.

    >>> json_for_script({"name": "</script>&"})
    '{"name": "\\\\u003c/script\\\\u003e\\\\u0026"}'
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _chart_current(frames: BPTTFrames, flow) -> list[list[str]]:
    """Per frame: the chart bar ids of the step being processed (bold outline)."""
    if flow is None:
        return [[] for _ in frames]
    ids = flow.bar_ids()
    out = []
    for f in frames:
        cur = []
        if f.step is not None and f.nodes:
            place = parse_time_scope(frames.graph.node(f.nodes[0]).scope)
            bar = ids.get((place.stack, f.step)) if place is not None else None
            if bar is not None:
                cur = [bar, bar.replace("bar-", "bar-after-")]
        out.append(cur)
    return out


def _bar_frames(frames: BPTTFrames, flow) -> dict[str, int | None]:
    """Chart bar id -> the first frame from which that step's gradient is complete."""
    if flow is None:
        return {}
    frame_of_event = {}
    for f in frames:
        for e in f.events:
            frame_of_event[e] = f.index
    return {
        bar: (None if ev is None else frame_of_event.get(ev))
        for bar, ev in flow.bar_events().items()
    }


def _accum_rows(frames: BPTTFrames) -> list[list[list]]:
    """Per frame: a table of the nodes that collect from three or more places (shared weights),
    with how many contributions arrived so far and the norm of their running sum."""
    graph = frames.graph
    incoming: dict[int, int] = {}
    for e in frames.trace.events:
        for s in e.sent:
            incoming[s.edge.src] = incoming.get(s.edge.src, 0) + 1
    shared = {n for n, c in incoming.items() if c >= 3}
    state: dict[int, tuple[int, float]] = {}
    rows = []
    for f in frames:
        for nid, value in f.accumulated.items():
            if nid in shared:
                state[nid] = value
        rows.append(
            [
                [node_name(graph.node(nid), frames.layout), f"{c} / {incoming[nid]}", f"{v:.4g}"]
                for nid, (c, v) in state.items()
            ]
        )
    return rows


def _sized(svg: str, scale: float = 1.25) -> str:
    """The SVG drawn at `scale` px per pt: about full size (1 pt = 1.33 px), so its 8-9 pt text
    stays readable; #graph scrolls, and its "Zoom" button fits the whole drawing to the pane."""
    match = re.search(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"', svg)
    if match is None:
        return svg
    w, h = (float(v) * scale for v in match.groups())
    return svg[: match.start()] + f'<svg width="{w:.0f}px" height="{h:.0f}px"' + svg[match.end() :]


def stepper_html(
    frames: BPTTFrames, *, flow=None, title: str | None = None, interval_ms: int = 600
) -> str:
    """The stepper page as one HTML string (see the module docstring). `flow` (a
    `viz.gradient_flow` result of the same pass, e.g. with rho or clipping) replaces the chart
    the frames made themselves (`frames.flow`).

    >>> import tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> from viz.frames import bptt_frames
    >>> tl.manual_seed(0)
    >>> out, _ = nn.RNN(2, 3)(randn(3, 1, 2))
    >>> page = stepper_html(bptt_frames(out.sum()))
    >>> page.count('id="slider"'), "https:" in page, 'src="http' in page
    (1, False, False)
    """
    layout = frames.layout
    flow = flow if flow is not None else frames.flow
    ids = frames.changing()
    class_no = {c: i for i, c in enumerate(_CLASSES)}
    changes = []
    for k in range(len(frames)):
        items, edges = frames.changes(k)
        changes.append([[i, class_no[c]] for i, c in (*items, *edges)])
    data = {
        "ids": ids,
        "classes": _CLASSES,
        "changes": changes,
        "current": [list(f.current_items) for f in frames],
        "now": [frames._edges_now(k) for k in range(len(frames))],
        "desc": [f.description for f in frames],
        "bars": _bar_frames(frames, flow),
        "chartCurrent": _chart_current(frames, flow),
        "accum": _accum_rows(frames),
        "interval": int(interval_ms),
    }
    chart = flow.svg() if flow is not None else "<p>(no recurrence found)</p>"
    heading = html.escape(title or f"Backpropagation through time, step by step: {layout.title}")
    n = len(frames)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{heading}</title>
<style>{PAGE_CSS}{FRAME_CSS}</style></head>
<body>
<h1>{heading}</h1>
<div id="controls">
<button id="prev" type="button" title="previous event (left arrow)">&#9664; Previous</button>
<button id="play" type="button">&#9654; Play</button>
<button id="next" type="button" title="next event (right arrow)">Next &#9654;</button>
<input id="slider" type="range" min="0" max="{n - 1}" value="0" step="1" aria-label="frame">
<span id="frame-index">1 / {n}</span>
<span>(keys: &#8592; &#8594;)</span>
<button id="zoom" type="button" title="the whole drawing in the pane, or full size">
Zoom: fit width</button>
</div>
<div id="legend">The pass runs backwards from the loss.
<span class="key" style="border:3px solid #d62728"></span>being processed now
(its gradient is complete)
<span class="key" style="background:#d62728"></span>gradient sent in this event
<span class="key" style="background:#aaa;opacity:.75"></span>received part of its gradient
<span class="key" style="background:#333"></span>gradient final
<span class="key" style="background:#333;opacity:.2"></span>not reached yet</div>
<div id="description" aria-live="polite"></div>
<div id="main">
<div id="graph">{_sized(layout.svg())}</div>
<div id="side"><div id="chart">{chart}</div>
<div id="accum"><h3>Shared weights: gradient collected so far</h3>
<table><thead><tr><th>node</th><th>contributions</th><th>||sum so far||</th></tr></thead>
<tbody id="accum-body"></tbody></table></div></div>
</div>
<script type="application/json" id="stepper-data">{json_for_script(data)}</script>
<script>{PAGE_JS}</script>
</body></html>
"""


class Stepper:
    """The stepper page as an object: Jupyter shows it inline (`_repr_html_`, an iframe whose
    `srcdoc` holds the whole page, so several steppers on one notebook page never share ids),
    `save(path)` writes it, `html` is the page text."""

    def __init__(
        self, frames: BPTTFrames, *, flow=None, title: str | None = None, interval_ms: int = 600
    ):
        self.frames = frames
        self.html = stepper_html(frames, flow=flow, title=title, interval_ms=interval_ms)

    def _repr_html_(self) -> str:
        doc = html.escape(self.html, quote=True)
        return (
            f'<iframe srcdoc="{doc}" style="width:100%;height:900px;border:1px solid #ddd" '
            'sandbox="allow-scripts"></iframe>'
        )

    def save(self, path, *, overwrite: bool = False):
        """Write the page (refuses to replace a file unless overwrite=True)."""
        return write_file(path, self.html, overwrite=overwrite)

    def __repr__(self) -> str:
        return f"Stepper({len(self.frames)} frames)"


def save_stepper(
    frames: BPTTFrames, path, *, overwrite: bool = False, flow=None, title: str | None = None
):
    """Write the stepper page for `frames` (from `viz.bptt_frames`) to `path`: one HTML file
    that works offline. Never replaces an existing file unless `overwrite=True`. Returns the
    `Stepper` (Jupyter shows it inline). `flow` as in `stepper_html`.

    >>> import tempfile, os, tinygrad_lite as tl
    >>> from tinygrad_lite import nn, randn
    >>> from viz.frames import bptt_frames
    >>> tl.manual_seed(0)
    >>> out, _ = nn.GRU(2, 3)(randn(3, 1, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "bptt.html")
    >>> stepper = save_stepper(bptt_frames(out.sum()), path)
    >>> os.path.getsize(path) > 0, stepper
    (True, Stepper(...))
    """
    stepper = Stepper(frames, flow=flow, title=title)
    stepper.save(path, overwrite=overwrite)
    return stepper
