"""The HTML audit report in a real headless browser (Debian's chromium): the charts render.

``write_report`` writes the report of tests/fixtures/report/ into a fresh project;
chromium takes a screenshot of audit_report.html (it must exist, be the window's size
and show the charts' colours, not a blank page) and dumps the DOM it built (the inline
SVG charts must be there with their data points). chromium missing is a failure, never
a skip: ``scripts/install-browser.sh`` installs it.
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from swiftlib.metrics import history as metrics_history
from swiftlib.audit.report_files import write_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "report"
WIDTH, HEIGHT = 1200, 2000
STABLE_BLUE, CANARY_ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> None:
    """Overrides the directory's Docker check: this test drives a browser, not the engine."""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium not found: run `bash scripts/install-browser.sh` (apt-get install chromium "
                "chromium-driver) to install Debian's chromium for this test")


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # a fresh one per run
    argv = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    return result


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def _count_near(rows: list[bytes], bpp: int, color: tuple[int, int, int], tolerance: int = 24) -> int:
    r0, g0, b0 = color
    n = 0
    for row in rows:
        for i in range(0, len(row), bpp):
            if abs(row[i] - r0) <= tolerance and abs(row[i + 1] - g0) <= tolerance and abs(row[i + 2] - b0) <= tolerance:
                n += 1
    return n


class _Charts(HTMLParser):
    """Per chart (``<figure class="chart">``): its attributes, and the dots and lines inside its ``<svg>``."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self._depth = 0  # inside a figure.chart

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "figure" and "chart" in classes:
            self.figures.append({"attrs": attributes, "svg": 0, "dots": 0, "lines": 0, "labels": []})
            self._depth = 1
            return
        if not self._depth:
            return
        figure = self.figures[-1]
        if tag == "svg" and "pygal-chart" in classes:
            figure["svg"] += 1
        elif tag == "circle" and "dot" in classes:
            figure["dots"] += 1
        elif tag == "path" and "line" in classes and len((attributes.get("d") or "").split()) > 2:
            figure["lines"] += 1
        if tag == "figure":
            self._depth += 1

    def handle_endtag(self, tag):
        if self._depth and tag == "figure":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth and data.strip():
            self.figures[-1]["labels"].append(data.strip())


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / ".swiftdeploy").mkdir()
    shutil.copy(FIXTURES / "metrics-local.jsonl", metrics_history.history_path(root, "local"))
    events = json.loads((FIXTURES / "events.json").read_text(encoding="utf-8"))
    paths = write_report(root, root / "audit_report.md", events, None, "2026-12-01T10:00:00Z")
    assert paths[-1].name == "audit_report.html"
    return paths[-1]


def test_the_report_renders_with_its_charts(report, tmp_path):
    shot = tmp_path / "report.png"
    _run_chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", report.as_uri())
    assert shot.is_file(), "chromium wrote no screenshot"
    data = shot.read_bytes()
    assert len(data) > 40_000, f"a {len(data)}-byte screenshot is a blank page, not the report"
    width, height, rows = _png_pixels(data)
    assert (width, height) == (WIDTH, HEIGHT)
    bpp = len(rows[0]) // width
    white = sum(1 for row in rows for i in range(0, len(row), bpp) if row[i:i + 3] == b"\xff\xff\xff")
    assert white < 0.97 * width * height, "the screenshot is almost all white"
    # Both tracks' lines (and legend boxes) are on screen in their colours.
    assert _count_near(rows, bpp, STABLE_BLUE) > 50
    assert _count_near(rows, bpp, CANARY_ORANGE) > 50


def test_the_dom_holds_the_svg_charts_with_their_points(report, tmp_path):
    dom = _run_chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<h1>SwiftDeploy audit report</h1>" in dom
    parser = _Charts()
    parser.feed(dom)
    assert len(parser.figures) == 4, [f["attrs"] for f in parser.figures]
    for figure in parser.figures:
        assert figure["svg"] == 1
        assert figure["lines"] >= 1, "no line drawn"
        assert figure["dots"] >= int(figure["attrs"]["data-points"]), "a data point is not in the DOM"
    local_errors = next(f for f in parser.figures if "Error rate on local" in f["labels"])
    assert local_errors["attrs"]["data-points"] == "12"
    assert local_errors["dots"] == 12 + 2 * 7  # the samples, and two ends of each of the 7 marker lines
    assert {"stable", "canary", "policy deny (2)", "traffic (2)"} <= set(local_errors["labels"])
    assert any("p99 latency on old-box" in label for f in parser.figures for label in f["labels"])
