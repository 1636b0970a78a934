"""viz.chart: the per-step gradient-norm chart is valid SVG, log-scaled, escaped, and exposes
the ids and classes a stepper page animates."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from viz.chart import chart_svg, stack_svgs

SVG = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def _by_id(root: ET.Element) -> dict[str, ET.Element]:
    return {el.get("id"): el for el in root.iter() if el.get("id")}


def _bar_top(el: ET.Element) -> float:
    return float(el.get("y"))


def test_one_bar_per_step_with_stable_ids_and_steps():
    root = _tree(chart_svg([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0]))
    bars = [el for el in root.iter(f"{SVG}rect") if "gf-bar" in (el.get("class") or "")]
    assert [b.get("id") for b in bars] == ["bar-0", "bar-1", "bar-2", "bar-3"]
    assert [b.get("data-step") for b in bars] == ["0", "1", "2", "3"]


def test_bars_are_on_a_log_scale():
    ids = _by_id(_tree(chart_svg([0, 1, 2], [1.0, 10.0, 100.0])))
    tops = [_bar_top(ids[f"bar-{t}"]) for t in range(3)]
    assert tops[0] - tops[1] == pytest.approx(tops[1] - tops[2], abs=0.02)
    assert tops[0] > tops[1] > tops[2]  # larger norms reach higher (smaller y)


def test_the_reference_line_follows_rho_through_the_last_bar():
    norms = [1.0 * 2.0 ** (2 - t) for t in range(3)]  # 4, 2, 1: exactly 2^(T-t)
    root = _tree(chart_svg([0, 1, 2], norms, rho=2.0))
    ids = _by_id(root)
    line = next(el for el in root.iter(f"{SVG}line") if el.get("class") == "gf-ref")
    # The bars are exactly c * 2^(T-t): the line passes through the tops of the first and last.
    assert float(line.get("y1")) == pytest.approx(_bar_top(ids["bar-0"]), abs=0.1)
    assert float(line.get("y2")) == pytest.approx(_bar_top(ids["bar-2"]), abs=0.1)
    assert "ρ(W_hh) = 2" in ET.tostring(root, encoding="unicode")


def test_a_reverse_direction_anchors_the_reference_at_its_first_step():
    norms = [1.0 * 2.0**t for t in range(3)]  # grows with t: the pass runs from t = 0
    root = _tree(chart_svg([0, 1, 2], norms, rho=2.0, reverse=True))
    ids = _by_id(root)
    line = next(el for el in root.iter(f"{SVG}line") if el.get("class") == "gf-ref")
    assert float(line.get("y1")) == pytest.approx(_bar_top(ids["bar-0"]), abs=0.1)
    assert float(line.get("y2")) == pytest.approx(_bar_top(ids["bar-2"]), abs=0.1)


def test_no_reference_line_without_rho():
    root = _tree(chart_svg([0, 1], [1.0, 2.0]))
    assert not [el for el in root.iter(f"{SVG}line") if el.get("class") == "gf-ref"]


def test_a_reference_leaving_the_plot_is_cut_at_its_edge():
    root = _tree(chart_svg(list(range(20)), [1.0] * 20, rho=10.0))
    line = next(el for el in root.iter(f"{SVG}line") if el.get("class") == "gf-ref")
    top_of_plot = min(float(el.get("y1")) for el in root.iter(f"{SVG}line") if el.get("y1"))
    assert float(line.get("y1")) >= top_of_plot - 1e-6


def test_unreached_steps_are_pending():
    ids = _by_id(_tree(chart_svg([0, 1, 2], [3.0, 2.0, 1.0], reached={2})))
    assert "gf-pending" in ids["bar-0"].get("class")
    assert "gf-pending" in ids["value-1"].get("class")
    assert "gf-pending" not in ids["bar-2"].get("class")


def test_without_reached_every_bar_is_filled():
    svg = chart_svg([0, 1], [3.0, 2.0])
    assert "gf-pending" not in svg.replace(".gf-pending", "")  # only the style rule names it


def test_clipped_norms_stand_beside_the_bars():
    ids = _by_id(_tree(chart_svg([0, 1], [10.0, 5.0], after=[1.0, 0.5], after_label="after")))
    assert _bar_top(ids["bar-after-0"]) > _bar_top(ids["bar-0"])  # shorter bar
    assert "gf-after" in ids["bar-after-1"].get("class")
    assert [span.text for span in ids["value-1"]] == ["5", "0.5"]  # one element per step


def test_zero_and_nonfinite_norms_are_labelled():
    ids = _by_id(_tree(chart_svg([0, 1, 2], [0.0, math.inf, 1.0])))
    assert "".join(ids["value-0"].itertext()) == "0"
    assert "".join(ids["value-1"].itertext()) == "Inf"
    assert "gf-nonfinite" in ids["bar-1"].get("class")


def test_user_text_is_escaped():
    hostile = '</text><script>alert(1)</script> & "q" \x01'
    root = _tree(chart_svg([0], [1.0], title=hostile, notes=[hostile], rho_label=hostile, rho=2))
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    texts = [el.text for el in root.iter(f"{SVG}text")]
    assert '</text><script>alert(1)</script> & "q" \\x01' in texts


def test_stacked_charts_keep_their_prefixed_ids():
    both = stack_svgs(
        [chart_svg([0, 1], [1.0, 2.0]), chart_svg([0, 1], [1.0, 2.0], id_prefix="s1-")]
    )
    ids = _by_id(_tree(both))
    assert {"bar-0", "bar-1", "s1-bar-0", "s1-bar-1"} <= set(ids)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 steps but 3 norms"):
        chart_svg([0, 1], [1.0, 2.0, 3.0])
