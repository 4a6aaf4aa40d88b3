"""The board report opened in headless Chromium (marked ``browser``; `.ci/run` installs
Debian's chromium and runs them): loads offline with no request and no console error, one
shape per municipality, hovering shows the figures, hostile names stay text, the map is drawn.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from klynge_opt.api import solve
from klynge_opt.data.scenario import load_scenario
from klynge_opt.reporting.html import write_report
from klynge_opt.results.result import write_result

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)",
                allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


_INSIDE = """e => {
  const r = e.getBoundingClientRect();
  for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) {
    const x = r.left + r.width * i / 20, y = r.top + r.height * j / 20;
    if (document.elementFromPoint(x, y) === e) return [x, y];
  }
  return [r.left, r.top];
}"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, page_file: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    seen = {"requests": [], "errors": [], "dialogs": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    return page, seen


@pytest.fixture(scope="module")
def danish(tmp_path_factory) -> Path:
    """The report of today's Danish landscape (an evaluation: seconds, no MIP)."""
    root = tmp_path_factory.mktemp("dk-report")
    sc = load_scenario(ROOT / "scenarios" / "status-quo.toml")
    folder = write_result(solve(sc.data, sc), root / "status-quo")
    return write_report([folder], root / "report.html", lang="da")


def test_danish_map_offline_and_interactive(browser, danish):
    page, seen = _open(browser, danish)
    # Nothing but the file itself was requested, and the page raised no error.
    assert [u for u in seen["requests"] if not u.startswith("file:")] == []
    assert seen["errors"] == []
    assert page.locator("svg.map .muni").count() == 98
    shape = page.locator('svg.map .muni[data-m="0760"]')
    shape.scroll_into_view_if_needed()
    # A point of the screen where the municipality itself is on top (not a marker, not the
    # sea between its islands): the mouse goes there, as a user's would.
    x, y = shape.evaluate(_INSIDE)
    page.mouse.move(x, y)
    tip = page.locator("#tip")
    assert tip.is_visible() and "Ringkøbing-Skjern" in tip.text_content()
    assert "100,0 %" in tip.text_content()
    # Its entry point (the væksthus of its region in today's landscape) is named.
    assert "betjenende indgang: Væksthus Midtjylland" in tip.text_content()
    # The metric switch repaints: the colour follows the travel time now.
    before = shape.evaluate("e => e.style.fill")
    page.locator('#switch button[data-metric="travel"]').click()
    assert shape.evaluate("e => e.style.fill") != before
    # The entry-point switch colours each municipality by its entry point, as the legend says.
    page.locator('#switch button[data-metric="entry"]').click()
    entries = page.evaluate(
        "JSON.parse(document.getElementById('report-data').textContent).entries")
    assert len(entries) == 5
    from PIL import ImageColor

    want = "rgb({}, {}, {})".format(*ImageColor.getrgb(entries["Væksthus Midtjylland"]))
    assert shape.evaluate("e => getComputedStyle(e).fill") == want
    assert "Væksthus Midtjylland" in page.locator("#legend").text_content()
    # The drawing is not blank: the map's pixels are not all the background.
    from PIL import Image

    png = page.locator("svg.map").first.screenshot()
    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20
    page.close()


def test_hostile_names_render_as_text(browser, tmp_path):
    from klynge_opt.data.scenario import Scenario
    from test_report import HOSTILE_OPERATOR, HOSTILE_PLACE, hostile_dataset


    ds = hostile_dataset()
    folder = write_result(solve(ds, Scenario(name="hostile")), tmp_path / "r")
    out = write_report([folder], tmp_path / "hostile.html", dataset=ds)
    page, seen = _open(browser, out)
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert page.get_by_text(HOSTILE_OPERATOR, exact=True).count() >= 1
    place = page.locator('svg.map .muni[data-m="0102"]')
    place.scroll_into_view_if_needed()
    page.mouse.move(*place.evaluate(_INSIDE))
    assert HOSTILE_PLACE in page.locator("#tip").text_content()
    assert seen["dialogs"] == []
    page.close()
