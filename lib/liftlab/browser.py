"""Open HTML reports in headless Chromium, offline, and check that they render.

:func:`check_pages` starts one Chromium (``--headless=new``) for all pages and drives it over
the Chrome DevTools Protocol (``websocket-client``), one new tab per page. Each page is loaded
from ``file://`` with the network emulated offline, every host resolving to nothing and a dead
proxy (``127.0.0.1:9``), so nothing leaves the machine; any request that *tried* to (a URL not
``file:``, ``data:``, ``blob:`` or ``about:``) is recorded in :attr:`PageCheck.requests`.
Console errors, failed ``console.assert`` calls, uncaught exceptions and browser log errors
(such as a resource that failed to load) go to :attr:`PageCheck.console_errors`.

A *chart* is a top-level ``<svg>`` (not nested in another svg) that is ``svg.marks`` (what
vl-convert writes) or holds Vega data marks (``g.role-mark`` groups or elements whose
``aria-roledescription`` ends in `` mark``). Its *marks* are the items of those groups plus
those elements; axes, legends and titles are not marks. A chart is *drawn* when its svg has a
non-empty bounding box on the page and at least one mark has a ``getBBox()`` of non-zero width
or height.

A chart is *legible* (:attr:`ChartCheck.legible`) when none of its shown texts (a ``<text>``
with words, no ancestor up to the svg hidden or at opacity 0: Vega hides the labels it drops
for overlap that way) is cut off, truncated or overlapping: each text's box on the page (its
``getBBox()`` through ``getScreenCTM()``, so a rotated label is measured as drawn, trimmed to
the letters' height) must lie within the svg's bounding box (1 px of slack), no two texts may
overlap by more than 1 px (the same words drawn twice on one spot excepted), and no text may
contain the ellipsis ``…`` that Vega puts where it truncated a label at its ``limit``. Axis
labels and titles, legend labels, chart titles and subtitles and text marks are all checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websocket

from liftlab.errors import LiftlabError

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
INSTALL_HINT = "install Chromium: apt-get install -y chromium, or set LIFTLAB_CHROMIUM"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--remote-debugging-port=0",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
SETTLE_SECONDS = 0.3
# Draws every chart text in DejaVu Sans, about a sixth wider than the Arial metrics (Liberation
# Sans, Helvetica) that vl-convert lays charts out with: where a reader's browser has no Arial
# (many Linux desktops), this is what the charts look like.
WIDE_FONT_CSS = "svg text { font-family: 'DejaVu Sans', sans-serif !important; }"

# Returns one {title, marks, drawnMarks, visible, textProblems} per chart, in document order.
# The text checks (see the module doc) measure each visible <text>: its getBBox() corners,
# mapped to the page by getScreenCTM(), so rotated labels are measured as drawn.
CHARTS_JS = r"""(() => {
  const MARKS = 'g.role-mark > :not(g), [aria-roledescription$=" mark"]';
  // In CSS pixels, a text may reach EDGE past the chart's box and two texts may overlap
  // OVERLAP deep; a text's box is trimmed by INK of its height at the top and the bottom.
  const EDGE = 1, OVERLAP = 1, INK = 0.15;
  const charts = [...document.querySelectorAll('svg')].filter(
    (s) => !s.parentElement?.closest('svg') && (s.matches('svg.marks') || s.querySelector(MARKS)));
  const words = (el) => {
    const spans = el.querySelectorAll('tspan');
    const parts = spans.length ? [...spans].map((s) => s.textContent) : [el.textContent];
    return parts.join(' ').replace(/\s+/g, ' ').trim();
  };
  const shown = (el, svg) => {
    for (let n = el; n && n !== svg; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) {
        return false;
      }
    }
    const s = getComputedStyle(el);
    return !(s.fill === 'none' && s.stroke === 'none') && parseFloat(s.fillOpacity) !== 0;
  };
  // The corners of the text's box on the page; vertically trimmed to the glyphs' ink
  // (the box is the font's full line height, taller than the letters).
  const quad = (el) => {
    const b = el.getBBox(), m = el.getScreenCTM();
    if (!m || !(b.width > 0 && b.height > 0)) return null;
    const t = b.height * INK;
    const pts = [[b.x, b.y + t], [b.x + b.width, b.y + t],
                 [b.x + b.width, b.y + b.height - t], [b.x, b.y + b.height - t]];
    return pts.map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  // How deep two convex quads overlap: the least overlap of their projections on the
  // edge normals (separating axis theorem); 0 when they are apart.
  const depth = (p, q) => {
    let least = Infinity;
    for (const poly of [p, q]) {
      for (let i = 0; i < 4; i++) {
        const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
        const len = Math.hypot(x2 - x1, y2 - y1) || 1;
        const nx = (y1 - y2) / len, ny = (x2 - x1) / len;
        const span = (pts) => {
          const d = pts.map(([x, y]) => x * nx + y * ny);
          return [Math.min(...d), Math.max(...d)];
        };
        const [a0, a1] = span(p), [b0, b1] = span(q);
        least = Math.min(least, Math.min(a1, b1) - Math.max(a0, b0));
        if (least <= 0) return 0;
      }
    }
    return least;
  };
  const cut = (q, r) => {
    const xs = q.map((c) => c[0]), ys = q.map((c) => c[1]);
    const by = {
      left: r.left - Math.min(...xs), right: Math.max(...xs) - r.right,
      top: r.top - Math.min(...ys), bottom: Math.max(...ys) - r.bottom,
    };
    return Object.entries(by).filter(([, px]) => px > EDGE);
  };
  const textProblems = (svg) => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')]
      .filter((el) => !el.parentElement.closest('text'))
      .map((el) => ({ el, text: words(el) }))
      .filter(({ el, text }) => text && shown(el, svg))
      .map((t) => ({ ...t, quad: quad(t.el) }))
      .filter((t) => t.quad);
    const out = [];
    for (const t of texts) {
      for (const [side, px] of cut(t.quad, box)) {
        out.push({ kind: 'cut', text: t.text, side, px: Math.round(px) });
      }
      if (t.text.includes('\u2026')) out.push({ kind: 'ellipsis', text: t.text });
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i], b = texts[j];
        const same = a.text === b.text && a.quad.every(
          ([x, y], k) => Math.abs(x - b.quad[k][0]) < 1 && Math.abs(y - b.quad[k][1]) < 1);
        const px = same ? 0 : depth(a.quad, b.quad);
        if (px > OVERLAP) {
          out.push({ kind: 'overlap', text: a.text, other: b.text, px: Math.round(px) });
        }
      }
    }
    return out;
  };
  return charts.map((svg) => {
    const marks = [...new Set(svg.querySelectorAll(MARKS))];
    const drawn = marks.filter((m) => {
      try { const b = m.getBBox(); return b.width > 0 || b.height > 0; } catch (e) { return false; }
    });
    const r = svg.getBoundingClientRect();
    const style = getComputedStyle(svg);
    const title = svg.querySelector('g.role-title-text text, g.role-title text');
    const visible = r.width > 0 && r.height > 0 && style.visibility !== 'hidden';
    return {
      title: title ? words(title) : '',
      marks: marks.length,
      drawnMarks: drawn.length,
      visible,
      textProblems: visible ? textProblems(svg) : [],
    };
  });
})()"""


@dataclass(frozen=True)
class ChartCheck:
    """One chart on a page: its position (0-based), title and marks."""

    index: int
    title: str
    marks: int  # data-mark elements in the svg
    drawn_marks: int  # of those, how many have a non-empty getBBox()
    visible: bool  # the svg's bounding client rect is non-empty and it is not hidden
    text_problems: tuple[str, ...] = ()  # its texts that are cut, truncated or overlapping

    @property
    def drawn(self) -> bool:
        """The svg is visible and at least one mark has a non-zero width or height."""
        return self.visible and self.drawn_marks > 0

    @property
    def legible(self) -> bool:
        """No text of the chart is cut off, truncated with an ellipsis or overlapping."""
        return not self.text_problems

    def label(self) -> str:
        return f"chart {self.index + 1}" + (f" '{self.title}'" if self.title else "")


def _text_problem(p: dict[str, Any]) -> str:
    """One readable line for a text problem found by :data:`CHARTS_JS`."""
    text = f"'{p['text']}'"
    if p["kind"] == "cut":
        return f"text {text} is cut off: it runs {p['px']} px past the chart's {p['side']} edge"
    if p["kind"] == "ellipsis":
        return f"text {text} is truncated with an ellipsis (Vega's label limit)"
    return f"texts {text} and '{p['other']}' overlap ({p['px']} px)"


@dataclass(frozen=True)
class PageCheck:
    """What one page did in the browser; :attr:`ok` when it loaded cleanly and fully offline."""

    path: Path
    title: str
    loaded: bool  # the load event fired within the timeout
    charts: tuple[ChartCheck, ...]
    console_errors: tuple[str, ...]
    requests: tuple[str, ...]  # non-local URLs the page tried to fetch (none got out)
    extra: Any = None  # the JSON value of the caller's ``script``, if any

    @property
    def ok(self) -> bool:
        """Loaded, every chart drawn and legible, no console error, no request off the
        machine."""
        return not self.problems()

    def problems(self) -> list[str]:
        """One line per problem, each naming the file."""
        out = [] if self.loaded else [f"{self.path}: the page did not finish loading"]
        for chart in self.charts:
            if not chart.visible:
                out.append(f"{self.path}: {chart.label()} is not visible (empty bounding box)")
            elif not chart.drawn:
                out.append(
                    f"{self.path}: {chart.label()} drew no marks "
                    f"({chart.marks} mark elements, none with a non-zero size)"
                )
            out += [f"{self.path}: {chart.label()}: {p}" for p in chart.text_problems]
        out += [f"{self.path}: console error: {e}" for e in self.console_errors]
        out += [
            f"{self.path}: tried to load {u} (reports must work offline)" for u in self.requests
        ]
        return out


def find_chromium() -> str | None:
    """``$LIFTLAB_CHROMIUM`` if set (None when it is not an executable), else the first of
    ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH, else None."""
    if env := os.environ.get("LIFTLAB_CHROMIUM"):
        return shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def check_page(path: Path | str, **kw: Any) -> PageCheck:
    """:func:`check_pages` for one page."""
    return check_pages([Path(path)], **kw)[0]


def evaluate(path: Path | str, js: str, **kw: Any) -> Any:
    """Load ``path`` offline and return the JSON value of the JS expression ``js`` (awaited)."""
    return check_page(path, script=js, **kw).extra


def check_pages(
    paths: list[Path],
    *,
    chromium: str | None = None,
    timeout: float = 30,
    script: str | None = None,
    css: str | None = None,
) -> list[PageCheck]:
    """Load each page offline in one headless Chromium and check it (see the module doc).

    ``timeout`` bounds the browser start and each page's load. ``script``, a JS expression
    (a promise is awaited), runs on each page after the checks; its JSON value (or None) is
    :attr:`PageCheck.extra`, and an exception it throws is a console error. ``css``, a style
    sheet, is added to each page before the checks, e.g. :data:`WIDE_FONT_CSS` to see whether
    the charts still fit with a wider font than the one they were laid out with. The browser
    and its temporary profile are removed on return, also on error.
    """
    pages = [Path(p).resolve() for p in paths]
    if not pages:
        return []
    for page in pages:
        if not page.is_file():
            raise LiftlabError("file not found; pass the path of an HTML file", source=str(page))
    exe = chromium or find_chromium()
    if exe is None:
        env = os.environ.get("LIFTLAB_CHROMIUM")
        where = f"LIFTLAB_CHROMIUM={env} is not an executable" if env else "Chromium not found"
        raise LiftlabError(f"{where}; {INSTALL_HINT}", source=str(pages[0]))
    profile = Path(tempfile.mkdtemp(prefix="liftlab-chromium-"))
    log = profile / "stderr.log"
    proc: subprocess.Popen[bytes] | None = None
    cdp: _Cdp | None = None
    try:
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [exe, *FLAGS, f"--user-data-dir={profile / 'profile'}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # its own process group, killed as one below
            )
        cdp = _Cdp(_devtools_url(proc, log, timeout), timeout)
        return [_check(cdp, page, timeout, script, css) for page in pages]
    finally:
        if cdp is not None:
            cdp.close()
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_url(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """Wait for Chromium's ``DevTools listening on ws://...`` line on stderr."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace")
        if found := re.search(r"DevTools listening on (ws://\S+)", text):
            return found.group(1)
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = " | ".join(text.strip().splitlines()[-3:])
            state = f"exited ({proc.returncode})" if proc.returncode is not None else "timed out"
            raise LiftlabError(f"Chromium {state} before DevTools started: {tail}; {INSTALL_HINT}")
        time.sleep(0.05)


class _Cdp:
    """One browser websocket; sessions are multiplexed by ``sessionId`` (flatten mode)."""

    def __init__(self, url: str, timeout: float):
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.timeout = timeout
        self.next_id = 0
        self.events: dict[str, list[dict[str, Any]]] = {}  # per session, not yet handled

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the browser is killed next anyway
            self.ws.close()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self._recv(left)
            if reply is not None and reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
        raise RuntimeError(f"{method}: Chromium did not answer within {self.timeout:g} s")

    def pump(self, seconds: float) -> None:
        """Queue the events that arrive in the next ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._recv(left)

    def _recv(self, wait: float | None) -> dict[str, Any] | None:
        self.ws.settimeout(wait)
        try:
            msg: dict[str, Any] = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in msg:
            self.events.setdefault(msg.get("sessionId", ""), []).append(msg)
        return msg


def _check(cdp: _Cdp, page: Path, timeout: float, script: str | None, css: str | None) -> PageCheck:
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session: str = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Runtime", "Log", "Network", "Page"):
        cdp.send(f"{domain}.enable", session=session)
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", offline, session)
    navigated = "errorText" not in cdp.send("Page.navigate", {"url": page.as_uri()}, session)
    deadline = time.monotonic() + timeout
    loaded = False
    while navigated and not loaded and time.monotonic() < deadline:
        cdp.pump(0.05)
        loaded = any(e["method"] == "Page.loadEventFired" for e in cdp.events.get(session, []))
    cdp.pump(SETTLE_SECONDS)

    def run(js: str) -> Any:
        args = {"expression": js, "returnByValue": True, "awaitPromise": True}
        reply = cdp.send("Runtime.evaluate", args, session)
        if "exceptionDetails" in reply:
            raise _ScriptError(_exception_text(reply["exceptionDetails"]))
        return reply["result"].get("value")

    if css is not None:
        run(
            f"document.head.appendChild(document.createElement('style')).textContent = {json.dumps(css)}"
        )
        run("document.fonts.ready.then(() => document.body.offsetHeight)")

    charts = [
        ChartCheck(
            i,
            c["title"],
            c["marks"],
            c["drawnMarks"],
            c["visible"],
            tuple(dict.fromkeys(_text_problem(p) for p in c["textProblems"])),
        )
        for i, c in enumerate(run(CHARTS_JS) or [])
    ]
    title = run("document.title") or ""
    extra, script_error = None, []
    if script is not None:
        try:
            extra = run(script)
        except _ScriptError as exc:
            script_error = [f"script: {exc}"]
        cdp.pump(SETTLE_SECONDS)
    cdp.send("Target.closeTarget", {"targetId": target})
    errors, requests = _collect(cdp.events.pop(session, []))
    return PageCheck(page, title, loaded, tuple(charts), (*errors, *script_error), requests, extra)


class _ScriptError(RuntimeError):
    pass


def _collect(events: list[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Console errors and the distinct non-local request URLs, in order."""
    errors: list[str] = []
    requests: dict[str, None] = {}
    for event in events:
        method, p = event["method"], event.get("params", {})
        if method in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            url = p["request"]["url"] if "request" in p else p["url"]
            if not url.startswith(LOCAL_SCHEMES):
                requests[url] = None
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            args = [str(a.get("value", a.get("description", ""))) for a in p.get("args", [])]
            errors.append(f"console.{p['type']}: {' '.join(args)}")
        elif method == "Runtime.exceptionThrown":
            errors.append(_exception_text(p["exceptionDetails"]))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            entry = p["entry"]
            errors.append(f"{entry['text']}" + (f" ({entry['url']})" if entry.get("url") else ""))
    return tuple(errors), tuple(requests)


def _exception_text(details: dict[str, Any]) -> str:
    exc = details.get("exception", {})
    description = str(exc.get("description") or exc.get("value") or "")
    first = description.splitlines()[0] if description else ""
    return f"{details.get('text', 'Uncaught')} {first}".strip()
