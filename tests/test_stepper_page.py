"""The stepper page in a real browser: headless Debian Chromium driven by playwright.

One browser for the module; each test opens a page from file:// (no network is reachable or
needed). `make test` installs Chromium (see the Makefile); with CI=true a missing browser fails.
"""

import os

import pytest

import tinygrad_lite as tl
import viz
from tinygrad_lite import nn, randn

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if os.environ.get("CI"):
    import playwright.sync_api as playwright_api  # in CI a missing playwright is an error
else:
    playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: run `sudo apt-get install chromium`")
    pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto("file://" + os.fspath(path))
    return page, errors


@pytest.fixture(scope="module")
def lstm_page(tmp_path_factory):
    tl.manual_seed(0)
    model = nn.LSTM(2, 3)
    out, _ = model(randn(5, 1, 2))
    frames = viz.bptt_frames(out.sum(), model=model)
    path = tmp_path_factory.mktemp("stepper") / "bptt.html"
    viz.save_stepper(frames, path)
    return frames, path


def _state(page):
    return page.evaluate(
        """() => ({
        index: document.getElementById('frame-index').textContent,
        slider: document.getElementById('slider').value,
        desc: document.getElementById('description').textContent,
        current: Array.from(document.querySelectorAll('#graph .tl-current')).map(e => e.id),
        filled: Array.from(document.querySelectorAll('#chart rect.gf-bar'))
            .filter(e => !e.classList.contains('gf-pending')).map(e => e.id).sort(),
    })"""
    )


def _expected_filled(frames, k):
    bars = {}
    frame_of_event = {e: f.index for f in frames for e in f.events}
    for bar, ev in frames.flow.bar_events().items():
        bars[bar] = None if ev is None else frame_of_event[ev]
    return sorted(b for b, f in bars.items() if f is not None and f <= k)


def _check(state, frames, k):
    n = len(frames)
    assert state["index"] == f"{k + 1} / {n}"
    assert state["slider"] == str(k)
    assert state["desc"] == frames[k].description
    assert state["current"] == list(frames[k].current_items)
    assert state["filled"] == _expected_filled(frames, k)


def test_buttons_slider_and_arrow_keys_move_through_the_frames(browser, lstm_page):
    frames, path = lstm_page
    page, errors = _open(browser, path)
    n = len(frames)
    _check(_state(page), frames, 0)
    page.click("#next")
    page.click("#next")
    _check(_state(page), frames, 2)
    page.click("#prev")
    _check(_state(page), frames, 1)
    # Drag the slider to its end with the mouse, then back to the middle by value.
    box = page.locator("#slider").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 20, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    _check(_state(page), frames, n - 1)
    middle = n // 2
    page.locator("#slider").fill(str(middle))
    _check(_state(page), frames, middle)
    page.keyboard.press("ArrowRight")
    _check(_state(page), frames, middle + 1)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    _check(_state(page), frames, middle - 1)
    page.click("#prev")  # clamps at the first frame
    for _ in range(n):
        page.keyboard.press("ArrowLeft")
    _check(_state(page), frames, 0)
    assert errors == []
    page.close()


def test_the_chart_fills_in_as_the_pass_reaches_each_step(browser, lstm_page):
    frames, path = lstm_page
    page, errors = _open(browser, path)
    assert _state(page)["filled"] == []
    page.locator("#slider").fill(str(len(frames) - 1))
    assert len(_state(page)["filled"]) == 5
    assert errors == []
    page.close()


def test_play_advances_by_itself_and_pause_stops_it(browser, tmp_path):
    tl.manual_seed(1)
    out, _ = nn.RNN(2, 3)(randn(3, 1, 2))
    frames = viz.bptt_frames(out.sum())
    path = tmp_path / "play.html"
    viz.Stepper(frames, interval_ms=150).save(path)
    page, errors = _open(browser, path)
    page.click("#play")
    assert "Pause" in page.text_content("#play")
    page.wait_for_function(
        "() => !document.getElementById('frame-index').textContent.startsWith('1 /')",
        timeout=5000,
    )
    page.click("#play")
    assert "Play" in page.text_content("#play")
    stopped = page.text_content("#frame-index")
    assert not stopped.startswith(f"{len(frames)} /")  # paused before the end
    page.wait_for_timeout(450)
    assert page.text_content("#frame-index") == stopped
    assert errors == []
    page.close()


def test_hostile_names_show_as_text_and_run_nothing(browser, tmp_path):
    tl.manual_seed(2)
    cell = nn.RNNCell(2, 3)
    hostile = "</script><script>alert('x')</script><img src=x onerror=alert(1)> \"q\" & co \u2028"
    h = None
    for t in range(3):
        with tl.scope(f"t={t}"):
            h = cell(randn(1, 2), h)
    h.name = hostile
    loss = h.sum()
    loss.name = hostile
    frames = viz.bptt_frames(loss)
    path = tmp_path / "hostile.html"
    viz.save_stepper(frames, path)
    page, errors = _open(browser, path)
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # data + ours
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert hostile in page.text_content("#description")
    text = path.read_text(encoding="utf-8")
    assert text.count("<script") == 2 and "<img" not in text  # only escaped forms remain
    assert errors == []
    page.close()


def test_two_steppers_on_one_page_work_apart(browser, lstm_page, tmp_path):
    frames, _ = lstm_page
    one = viz.Stepper(frames)._repr_html_()
    page_html = f"<!DOCTYPE html><html><body>{one}{one}</body></html>"
    path = tmp_path / "notebook.html"
    path.write_text(page_html, encoding="utf-8")
    page, errors = _open(browser, path)
    first, second = page.frames[1], page.frames[2]
    first.wait_for_selector("#next")
    second.wait_for_selector("#next")
    first.click("#next")
    assert first.text_content("#frame-index") == f"2 / {len(frames)}"
    assert second.text_content("#frame-index") == f"1 / {len(frames)}"
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def wide_page(tmp_path_factory):
    """A drawing several times wider than the graph pane (6 LSTM steps at level "gate")."""
    tl.manual_seed(0)
    model = nn.LSTM(1, 4)
    out, _ = model(randn(6, 1, 1))
    frames = viz.bptt_frames((out * out).sum(), model=model, level="gate")
    path = tmp_path_factory.mktemp("wide") / "wide.html"
    viz.save_stepper(frames, path)
    return path


_PANE = """() => {
    const g = document.getElementById('graph').getBoundingClientRect();
    const svg = document.querySelector('#graph svg').getBoundingClientRect();
    const title = document.querySelector('#graph #title').getBoundingClientRect();
    const cur = document.querySelector('#graph .tl-current').getBoundingClientRect();
    return {g: [g.left, g.right, g.top, g.bottom], svgW: svg.width, title: [title.left, title.top],
            cur: [cur.left, cur.right, cur.top, cur.bottom],
            font: parseFloat(getComputedStyle(document.querySelector('#graph svg text')).fontSize)
                * svg.width / document.querySelector('#graph svg').viewBox.baseVal.width};
}"""


def test_the_graph_pane_starts_at_the_drawings_left_edge_at_a_readable_size(browser, wide_page):
    page, errors = _open(browser, wide_page)
    s = page.evaluate(_PANE)
    left, right, top, bottom = s["g"]
    assert left <= s["title"][0] < right and top <= s["title"][1] < bottom  # the title shows
    assert s["svgW"] > right - left  # wider than the pane: it scrolls, it is not shrunk
    assert s["font"] >= 9  # 8-9 pt text at about full size, in px on screen
    assert not errors


_CURRENT = """() => {
    const data = JSON.parse(document.getElementById('stepper-data').textContent);
    const k = parseInt(document.getElementById('slider').value, 10);
    const g = document.getElementById('graph');
    const pane = g.getBoundingClientRect();
    const ids = data.current[k];
    if (!ids.length) { return null; }
    const r = document.getElementById(ids[0]).getBoundingClientRect();
    return {item: [r.left, r.right, r.top, r.bottom],
            pane: [pane.left, pane.left + g.clientWidth, pane.top, pane.top + g.clientHeight]};
}"""


def test_every_frame_scrolls_its_current_item_into_the_pane(browser, wide_page):
    page, errors = _open(browser, wide_page)
    seen = 0
    for _ in range(40):
        page.keyboard.press("ArrowRight")
        s = page.evaluate(_CURRENT)
        if s is None:
            continue
        seen += 1
        (il, ir, it, ib), (pl, pr, pt, pb) = s["item"], s["pane"]
        if ir - il <= pr - pl:  # fits: wholly visible
            assert pl <= il and ir <= pr and pt <= it and ib <= pb, s
        else:  # a bar across all the steps: at least in view
            assert il < pr and ir > pl
    assert seen > 20 and not errors


def test_the_zoom_button_fits_the_whole_drawing_to_the_pane_and_back(browser, wide_page):
    page, errors = _open(browser, wide_page)
    full = page.evaluate(_PANE)["svgW"]
    page.click("#zoom")
    s = page.evaluate(_PANE)
    assert s["svgW"] <= s["g"][1] - s["g"][0]
    page.click("#zoom")
    assert page.evaluate(_PANE)["svgW"] == full
    assert not errors


def test_the_row_labels_stay_in_view_when_the_drawing_scrolls_sideways(browser, wide_page):
    page, errors = _open(browser, wide_page)
    page.evaluate("() => { const g = document.getElementById('graph'); g.scrollLeft = 600; }")
    page.wait_for_timeout(100)
    s = page.evaluate(
        """() => { const g = document.getElementById('graph');
        const p = g.getBoundingClientRect(), r = document.getElementById('row_0')
            .getBoundingClientRect();
        return [g.scrollLeft, p.left, p.left + g.clientWidth, r.left, r.right]; }"""
    )
    scrolled, left, right, label_left, label_right = s
    assert scrolled > 0 and left <= label_left and label_right <= right
    assert not errors
