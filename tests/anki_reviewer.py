"""Render cards as Anki's desktop reviewer does, in headless Chromium, and report what a security review needs.

The page is the one `aqt.reviewer.Reviewer` builds (`revHtml` inside `AnkiWebView.stdHtml`), with the
reviewer JavaScript, CSS and MathJax that the installed `aqt` package ships, served like Anki's media
server: `/_anki/` from `_aqt/data/web`, the page at `/_anki/legacyPageData`, media at the root with the
media CSP. Cards go through the reviewer's own `_showQuestion` / `_showAnswer`, so MathJax is loaded and
typesets exactly as on the desktop. Chromium gets this server as its only proxy, so no request can leave
the machine, and what a card fetches from another host is seen (https only as a refused tunnel to the host).
The page-side half only observes; it is not hardened against a card that sets out to fool it.

Chromium is driven over the DevTools protocol on a pipe (never a port): to give the page a viewport
narrower than a headless window can be (a phone's 360 px), and to take screenshots of chosen cards.
A probe, a JavaScript function given by the caller, may read each side's layout and computed styles.
"""

from __future__ import annotations

import base64
import fcntl
import http.server
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.system_tools import chromium

if TYPE_CHECKING:
    from anki.cards import CardId
    from anki.collection import Collection

HARNESS = "/__deckgen/"
# Chromium's own background requests (component updates, accounts) go to these; a page's carry fetch metadata.
BROWSER_SERVICE_DOMAINS = (".google.com", ".googleapis.com", ".gvt1.com", ".gstatic.com")
PAGE_PATH = "/_anki/legacyPageData"
# The leading <style> Anki puts before each side: the note type's CSS, not field content.
NOTE_TYPE_STYLE_RE = re.compile(r"\A<style>(.*?)</style>", re.DOTALL)
MIME_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


@dataclass(frozen=True)
class SideView:
    """One side of a card as the reviewer shows it once MathJax has finished."""

    mathjax_errors: list[str]
    """Texts of MathJax error nodes (`data-mjx-error`, `mjx-merror`) and typeset failures the reviewer swallows."""
    links: list[str]
    """Every `href`, `xlink:href`, `action` and `formaction` in the card, as the DOM holds it (MathJax output included)."""
    remote_loads: list[str]
    """Resolved URLs the card refers to as a resource, or really fetched, other than `/_anki/` and its media files.

    Requests are given to the side on screen when they started; the reviewer preloads the answer's images while
    the question is shown, so those appear on the question side too."""
    scripts: list[str]
    """Active or styling content from the fields: script-like elements, `on*` attributes, `style` outside MathJax,
    `<style>` other than the note type's, TeX `\\style`/`\\class`/`\\cssId`, and dialogs or bridge commands the card ran."""
    typeset_count: int
    """Number of `mjx-container` elements, i.e. typeset formulas."""
    text: str
    """The visible text (`innerText`) of the card."""
    console: list[str]
    """Console errors and warnings, uncaught errors and failed loads while this side was shown."""
    probe: Any = None
    """What the caller's probe returned for this side (None without a probe)."""


@dataclass(frozen=True)
class CardView:
    """The question and answer side of one card."""

    question: SideView
    answer: SideView

    @property
    def sides(self) -> tuple[SideView, SideView]:
        """Both sides, question first."""
        return (self.question, self.answer)


class ReviewerError(RuntimeError):
    """The harness itself failed: no browser, MathJax did not load, a card hung the page, a timeout."""


def web_folder() -> Path:
    """The web assets of the installed `aqt`: the folder Anki serves as `/_anki/`."""
    import _aqt  # a namespace package: no __file__, one or more __path__ entries

    for entry in _aqt.__path__:
        folder = Path(entry).resolve() / "data" / "web"
        if (folder / "js" / "reviewer.js").is_file():
            return folder
    raise ReviewerError(f"no data/web/js/reviewer.js in {list(_aqt.__path__)}: is the aqt package installed completely?")


@dataclass(frozen=True)
class ReviewerInput:
    """One card as the desktop reviewer hands it to the page."""

    card_id: CardId
    question: str
    answer: str
    ord: int


def collection_cards(col: Collection, search: str = "") -> list[ReviewerInput]:
    """The cards matching `search`, in creation order, munged as `Reviewer._mungeQA` does (media names escaped,
    sound tags turned into play buttons; no type-answer field)."""
    import aqt.sound

    def munge(text: str) -> str:
        """Escape media file names in tags and add play buttons, like `AnkiQt.prepare_card_text_for_display`."""
        return str(aqt.sound.av_refs_to_play_icons(col.media.escape_media_filenames(text)))

    inputs = []
    for card_id in col.find_cards(search, order="c.id asc"):
        card = col.get_card(card_id)
        inputs.append(ReviewerInput(card_id, munge(card.question()), munge(card.answer()), card.ord))
    return inputs


def render_cards(
    cards: Sequence[tuple[str, str]],
    night: bool = False,
    media_dir: Path | None = None,
    ords: Sequence[int] | None = None,
    timeout: float = 300.0,
    viewport: tuple[int, int] | None = None,
    probe: str | None = None,
    screenshots: Mapping[int, Path] | None = None,
) -> list[CardView]:
    """Show each (question HTML, answer HTML) in one reviewer page in headless Chromium; views in input order.

    The HTML is what the backend renders (`card.question()` / `card.answer()`, with the note type's leading
    `<style>`), after the reviewer's own munging (see `collection_cards`). `ords` are the template ordinals
    that set the `card<N>` body class (default 0); `media_dir` is served at the page root, as Anki serves the
    collection's media folder.

    `viewport` is the page's (width, height) in CSS pixels (default the 1024x768 window). `probe` is the source
    of a JavaScript function `(qa, side) => value`, called once each side is shown, typeset and its images
    loaded; its JSON value is the side's `probe`. `screenshots` maps a card's index to a path prefix: both
    sides of that card are saved as `<prefix>-question.png` and `<prefix>-answer.png`, the whole page.
    """
    if ords is not None and len(ords) != len(cards):
        raise ValueError(f"{len(ords)} ordinals for {len(cards)} cards")
    shots = {index: Path(prefix) for index, prefix in (screenshots or {}).items()}
    if any(not 0 <= index < len(cards) for index in shots):
        raise ValueError(f"screenshots of cards {sorted(shots)} asked for, of {len(cards)} cards")
    browser = chromium()
    media = sorted(p.name for p in media_dir.iterdir() if p.is_file()) if media_dir is not None else []
    job = {
        "cards": [
            {"q": q, "a": a, "qCss": _note_type_css(q), "aCss": _note_type_css(a), "ord": ords[i] if ords else 0}
            for i, (q, a) in enumerate(cards)
        ],
        "media": media,
        "bodyClass": _body_class(night),
        "probe": probe,
        "shots": sorted(shots),
    }
    state = _ServerState(web_folder(), media_dir, job, _page_html(night), shots)
    with _serve(state) as port, _chromium(browser, port) as (process, log, devtools):
        state.devtools = devtools
        devtools.open_page(f"http://127.0.0.1:{port}{PAGE_PATH}?id=1", viewport)
        deadline = time.monotonic() + timeout
        while not state.done.wait(0.2):
            if process.poll() is not None:
                raise ReviewerError(f"Chromium exited with {process.returncode}: {_tail(log)}")
            if time.monotonic() > deadline:
                raise ReviewerError(f"no result within {timeout:.0f} s (at {state.mark}): {_tail(log)}")
    result = state.result
    if "fatal" in result:
        raise ReviewerError(f"the reviewer page failed: {result['fatal']}")
    if state.shot_errors:
        raise ReviewerError(f"screenshots failed: {state.shot_errors}")
    views = [CardView(_side(c["question"]), _side(c["answer"])) for c in result["cards"]]
    if len(views) != len(cards):
        raise ReviewerError(f"{len(views)} results for {len(cards)} cards")
    before_cards = list(result["before"]) + [url for (index, _), url in state.stray if index < 0]
    if before_cards:
        raise ReviewerError(f"the reviewer page requested {before_cards} before the first card")
    for (index, side), url in state.stray:
        # Requests the page's resource timing missed (e.g. a tunnel to an https host) still belong to a card;
        # those that arrive after the last card was read are the last card's.
        if index >= len(views):
            view = views[-1].answer
        else:
            view = views[index].answer if side == "answer" else views[index].question
        if not any(_same_request(url, seen) for seen in view.remote_loads):
            view.remote_loads.append(url)
    return views


@dataclass(frozen=True)
class Picture:
    """A screenshot's pixels, as 8-bit RGB."""

    width: int
    height: int
    rows: list[bytes]

    def pixel(self, x: float, y: float) -> tuple[int, int, int]:
        """The colour at page position (x, y)."""
        row, column = self.rows[int(y)], int(x) * 3
        return row[column], row[column + 1], row[column + 2]


def read_png(path: Path) -> Picture:
    """Decode a screenshot: an 8-bit, non-interlaced RGB or RGBA PNG, as Chromium writes them (alpha dropped)."""
    import struct
    import zlib

    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ReviewerError(f"{path} is not a PNG")
    chunks: dict[bytes, bytes] = {}
    at = 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunks[kind] = chunks.get(kind, b"") + data[at + 8 : at + 8 + length]
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ReviewerError(f"{path}: a PNG of depth {depth}, colour type {colour}, interlace {interlace} is not read here")
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(chunks[b"IDAT"])
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                near = min((abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left))
                line[i] = (line[i] + near[2]) & 0xFF
        previous = line
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
    return Picture(width, height, rows)


def _same_request(server_saw: str, page_saw: str) -> bool:
    """Whether a request the server recorded is one the page already reported (a tunnel shows only the host)."""
    if server_saw.removeprefix("GET ") == page_saw:
        return True
    tunnel = re.fullmatch(r"https://([^/]+):443", server_saw)
    return tunnel is not None and urllib.parse.urlsplit(page_saw).netloc in (tunnel.group(1), tunnel.group(1) + ":443")


def _note_type_css(html: str) -> str | None:
    """The note type CSS Anki puts at the start of a rendered side, if any."""
    match = NOTE_TYPE_STYLE_RE.match(html)
    return match.group(1) if match else None


def _side(data: dict[str, Any]) -> SideView:
    """A SideView from the page's JSON for one side."""
    return SideView(
        mathjax_errors=list(data["mathjax_errors"]),
        links=list(data["links"]),
        remote_loads=list(data["remote_loads"]),
        scripts=list(data["scripts"]),
        typeset_count=int(data["typeset_count"]),
        text=str(data["text"]),
        console=list(data["console"]),
        probe=data.get("probe"),
    )


def _tail(log: Path, lines: int = 15) -> str:
    """The end of Chromium's stderr, for error messages."""
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _body_class(night: bool) -> str:
    """`theme_manager.body_class()` of Anki on Linux with default preferences."""
    return "isLin nightMode night_mode fancy" if night else "isLin fancy"


def _standard_css() -> str:
    """`AnkiWebView.standard_css()` on Linux, with a typical Qt default font (10 pt at 96 dpi) and zoom 1."""
    import aqt.colors

    family = "Noto Sans"
    size = 10 * 96 / 72
    return f"""
body {{ zoom: 1.0; background-color: var(--canvas); }}
html {{ font-family:"{family}", sans-serif; }}
:root.system-font-size, :root.night-mode.system-font-size {{ font-size: {size}px; --bs-body-font-size: {size}px; --font-size: {size}px; }}
/* Buttons */
button{{ 
    font-family: "{family}", sans-serif;
}}
:root {{ --canvas: {aqt.colors.CANVAS["light"]} }}
:root[class*=night-mode] {{ --canvas: {aqt.colors.CANVAS["dark"]} }}
"""


def _page_html(night: bool) -> str:
    """The reviewer page as `Reviewer._initWeb` builds it through `stdHtml`, plus the harness script.

    Script and style URLs are relative to the `<base>`, which Anki sets to the media server, so the page
    does not need to know its port.
    """
    # revHtml(): no "reviewExtra" and hardware video, so no qFade override.
    body = """
<div id="_mark" hidden>&#x2605;</div>
<div id="_flag" hidden>&#x2691;</div>

<div id="qa" dir="auto"></div>

"""
    doc_class, bs_theme = ("night-mode", "dark") if night else ("", "light")
    return f"""
<!doctype html>
<html class="{doc_class}" dir="ltr" data-bs-theme="{bs_theme}">
<head>
    <title>main webview</title>
<base href="/"><link rel="stylesheet" type="text/css" href="/_anki/css/webview.css"><style>{_standard_css()}</style>
<link rel="stylesheet" type="text/css" href="/_anki/css/reviewer.css">
</head>

<body class="{_body_class(night)}">
<script src="/_anki/js/webview.js"></script>
<script src="/_anki/js/reviewer.js"></script>
{body}<script>{_PAGE_SCRIPT}</script></body>
</html>"""


class _ServerState:
    """What the local server serves and what it saw."""

    def __init__(self, web: Path, media: Path | None, job: dict[str, Any], page: str, shots: dict[int, Path]) -> None:
        """Serve `web` as /_anki/, `media` at the root, and `job` to the page; take the screenshots in `shots`."""
        self.shots = shots
        self.shot_errors: list[str] = []
        self.devtools: _DevTools | None = None
        self.web = web.resolve()
        self.media = media.resolve() if media is not None else None
        self.job = json.dumps(job).encode("utf-8")
        self.page = page.encode("utf-8")
        self.mark: tuple[int, str] = (-1, "start")
        self.stray: list[tuple[tuple[int, str], str]] = []
        self.result: dict[str, Any] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.origin = ""

    def record_stray(self, url: str) -> None:
        """Remember a request that neither the page, Anki's assets nor the media explain."""
        with self.lock:
            self.stray.append((self.mark, url))


class _Handler(http.server.BaseHTTPRequestHandler):
    """Anki's media server for one reviewer page, and the proxy for everything else."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_CONNECT(self) -> None:
        """A tunnel to an https or wss host: refuse it, and record it unless it is the browser's own traffic."""
        if not self._from_browser_itself(self.path.rsplit(":", 1)[0]):
            self.server.state.record_stray(f"https://{self.path}")
        self._send(403, b"no remote hosts", "text/plain")

    def _from_browser_itself(self, host: str) -> bool:
        """Whether a request is Chromium's background traffic (updates, accounts) rather than the page's.

        Requests from a page carry fetch metadata (`Sec-Fetch-Dest`); a tunnel (CONNECT) never does, so tunnels
        to Google's service hosts are taken for the browser's. A card's https loads are still found in the DOM.
        """
        if self.headers.get("Sec-Fetch-Dest") or self.headers.get("Referer") or self.headers.get("Origin"):
            return False
        return host == "google.com" or host.endswith(BROWSER_SERVICE_DOMAINS)

    def do_GET(self) -> None:
        """Serve the page, Anki's web assets or media; refuse and record anything else."""
        state = self.server.state
        path = self._local_path()
        if path is None:
            return
        parts = urllib.parse.urlsplit(path)
        name = urllib.parse.unquote(parts.path)
        if name == PAGE_PATH:
            # Anki serves the reviewer page with only this CSP: card JavaScript is allowed to run.
            self._send(200, state.page, "text/html; charset=utf-8", {"Content-Security-Policy": _trusted_page_csp()})
        elif name == "/favicon.ico":
            self._send(404, b"not found", "text/plain")  # the browser's, not the card's
        elif name == HARNESS + "job":
            self._send(200, state.job, "application/json")
        elif name == HARNESS + "shot":
            query = urllib.parse.parse_qs(parts.query)
            index, side = int(query["card"][0]), query["side"][0]
            prefix = state.shots.get(index)
            if prefix is None or side not in ("question", "answer") or state.devtools is None:
                state.shot_errors.append(f"unexpected screenshot request {path}")
            else:
                try:
                    state.devtools.screenshot(prefix.with_name(f"{prefix.name}-{side}.png"))
                except (OSError, ReviewerError) as error:
                    state.shot_errors.append(f"card {index} {side}: {error}")
            self._send(204, b"", "text/plain")
        elif name == HARNESS + "mark":
            query = urllib.parse.parse_qs(parts.query)
            with state.lock:
                state.mark = (int(query["card"][0]), query["side"][0])
            self._send(204, b"", "text/plain")
        elif name.startswith("/_anki/") and (file := _inside(state.web, name[len("/_anki/") :])) is not None:
            self._send_file(file, {})
        elif state.media is not None and (file := _inside(state.media, name[1:])) is not None and file.parent == state.media:
            self._send_file(file, {"Content-Security-Policy": _untrusted_media_csp()})
        else:
            state.record_stray(f"{state.origin}{path}")
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        """Take the page's results."""
        path = self._local_path()
        if path is None:
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if urllib.parse.urlsplit(path).path != HARNESS + "result":
            self.server.state.record_stray(f"POST {self.server.state.origin}{path}")
            self._send(404, b"not found", "text/plain")
            return
        self.server.state.result = json.loads(body)
        self._send(204, b"", "text/plain")
        self.server.state.done.set()

    def _local_path(self) -> str | None:
        """The path of a request to this server; None, after recording and refusing it, for another host."""
        if not self.path.startswith(("http://", "https://")):
            return self.path
        parts = urllib.parse.urlsplit(self.path)
        if f"{parts.scheme}://{parts.netloc}" == self.server.state.origin:
            return urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self._from_browser_itself(parts.hostname or ""):
            self.server.state.record_stray(self.path if self.command == "GET" else f"{self.command} {self.path}")
        self._send(404, b"no remote hosts", "text/plain")
        return None

    def _send_file(self, file: Path, headers: dict[str, str]) -> None:
        """Send a file with the type Anki's server would give it."""
        mime = MIME_TYPES.get(file.suffix.lower(), "application/octet-stream")
        self._send(200, file.read_bytes(), mime, {"Cache-Control": "max-age=0", **headers})

    def _send(self, status: int, body: bytes, mime: str, headers: dict[str, str] | None = None) -> None:
        """Send a complete response."""
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


class _Server(http.server.ThreadingHTTPServer):
    """A threading HTTP server that carries the harness state."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore the browser dropping a connection; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, state: _ServerState) -> None:
        """Listen on a free loopback port."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        state.origin = f"http://127.0.0.1:{self.server_address[1]}"


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` if that is an existing file inside `root`."""
    if not relative or "\x00" in relative:
        return None
    candidate = (root / relative).resolve()
    return candidate if candidate.is_file() and candidate.is_relative_to(root) else None


def _trusted_page_csp() -> str:
    """The CSP Anki's media server sends with the reviewer page."""
    import aqt.mediasrv

    return str(aqt.mediasrv.TRUSTED_PAGE_CSP)


def _untrusted_media_csp() -> str:
    """The CSP Anki's media server sends with collection media."""
    import aqt.mediasrv

    return str(aqt.mediasrv.UNTRUSTED_MEDIA_CSP)


@contextmanager
def _serve(state: _ServerState) -> Iterator[int]:
    """Run the server in a thread for the duration; yield its port."""
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, name="anki-reviewer-server", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _DevTools:
    """Chromium's DevTools protocol on the pipe `--remote-debugging-pipe` opens: JSON messages ended by NUL."""

    def __init__(self, to_browser: int, from_browser: int, process: subprocess.Popen[bytes]) -> None:
        """Talk over the two pipe ends (ours) to `process`."""
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.process = process
        self.buffer = b""
        self.last_id = 0
        self.session: str | None = None
        self.lock = threading.Lock()

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Send one command (to the page, once attached) and return its result; events are dropped."""
        with self.lock:
            self.last_id += 1
            message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
            if self.session is not None:
                message["sessionId"] = self.session
            data = json.dumps(message).encode("utf-8") + b"\0"
            while data:
                data = data[os.write(self.to_browser, data) :]
            deadline = time.monotonic() + timeout
            while True:
                while b"\0" not in self.buffer:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                        raise ReviewerError(f"no DevTools answer to {method} within {timeout:.0f} s")
                    chunk = os.read(self.from_browser, 1 << 20)
                    if not chunk:
                        raise ReviewerError(f"Chromium closed the DevTools pipe during {method} (exit {self.process.poll()})")
                    self.buffer += chunk
                line, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(line)
                if reply.get("id") == self.last_id:
                    if "error" in reply:
                        raise ReviewerError(f"DevTools {method}: {reply['error']}")
                    return dict(reply.get("result", {}))

    def open_page(self, url: str, viewport: tuple[int, int] | None) -> None:
        """Attach to the blank tab Chromium opened, give it the viewport, then load `url` in it.

        Scrollbars take no room, as on a phone: a screenshot of the whole page, which makes the viewport as
        tall as the page, then lays the page out at the width the probe saw.
        """
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [target["targetId"] for target in targets if target["type"] == "page"]
        if not pages:
            raise ReviewerError(f"Chromium opened no tab: {targets}")
        self.session = str(self.call("Target.attachToTarget", {"targetId": pages[0], "flatten": True})["sessionId"])
        self.call("Emulation.setScrollbarsHidden", {"hidden": True})
        if viewport is not None:
            width, height = viewport
            self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})

    def screenshot(self, path: Path) -> None:
        """Save the whole page as a PNG: the viewport's width, or the content's where it is wider."""
        metrics = self.call("Page.getLayoutMetrics")
        view, content = metrics["cssLayoutViewport"], metrics["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": max(view["clientWidth"], content["width"]), "height": content["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


# Chromium reads DevTools commands from its fd 3 and writes replies to fd 4: this puts the pipe ends there
# (passed in at 5 or above, so that neither is overwritten by the other) and runs the browser.
_WITH_DEVTOOLS_PIPE = """import os, sys
commands, replies = int(sys.argv[1]), int(sys.argv[2])
os.dup2(commands, 3)
os.dup2(replies, 4)
os.close(commands)
os.close(replies)
os.execv(sys.argv[3], sys.argv[3:])
"""


def _pipe() -> tuple[int, int]:
    """A pipe whose two ends are file descriptors 5 or above, closed on exec unless passed on."""
    ends = []
    for end in os.pipe():
        ends.append(fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 5))
        os.close(end)
    return ends[0], ends[1]


@contextmanager
def _chromium(browser: str, port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path, _DevTools]]:
    """Headless Chromium on a blank tab, with a fresh profile, this server as its only way out and DevTools on a pipe."""
    with tempfile.TemporaryDirectory(prefix="deckgen-reviewer-") as temp:
        profile = Path(temp, "profile")
        log = Path(temp, "chromium.log")
        commands_read, commands_write = _pipe()
        replies_read, replies_write = _pipe()
        command = [
            sys.executable,
            "-c",
            _WITH_DEVTOOLS_PIPE,
            str(commands_read),
            str(replies_write),
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--mute-audio",
            "--window-size=1024,768",
            "--disable-breakpad",
            "--disable-client-side-phishing-detection",
            "--disable-component-extensions-with-background-pages",
            "--disable-features=Translate,MediaRouter,OptimizationHints,NetworkTimeServiceQuerying,AutofillServerCommunication",
            "--disable-search-engine-choice-screen",
            "--metrics-recording-only",
            "--password-store=basic",
            "--use-mock-keychain",
            f"--user-data-dir={profile}",
            # Every request, loopback included, goes through our server: nothing reaches another host,
            # and what a card tries to load elsewhere is recorded.
            f"--proxy-server=http://127.0.0.1:{port}",
            "--proxy-bypass-list=<-loopback>",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            with open(log, "wb") as stderr:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                    pass_fds=(commands_read, replies_write),
                )
            os.close(commands_read)
            os.close(replies_write)
            commands_read = replies_write = -1
            try:
                yield process, log, _DevTools(commands_write, replies_read, process)
            finally:
                _stop(process)
        finally:
            for fd in (commands_read, commands_write, replies_read, replies_write):
                if fd >= 0:
                    os.close(fd)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the Chromium we started and its helpers: the process group it leads, which we created for it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            time.sleep(0.2)  # let the helpers follow; SIGKILL then takes any left in the group


# The harness half that runs in the page. It only observes: it calls the reviewer's own functions and
# waits on its own queue (`_queueAction`), records console output, dialogs and bridge commands, and wraps
# `MathJax.typesetPromise` to see failures the reviewer would swallow.
_PAGE_SCRIPT = r"""
(() => {
  "use strict";
  const post = window.fetch.bind(window);
  const stringify = JSON.stringify;
  const qa = document.getElementById("qa");
  let consoleLog = [];
  let activity = [];
  let typesetFailures = [];
  const describe = (args) => Array.from(args, (a) => (a && a.stack) ? String(a.stack) : String(a)).join(" ").slice(0, 500);
  for (const level of ["error", "warn"]) {
    const original = console[level].bind(console);
    console[level] = (...args) => { consoleLog.push(level + ": " + describe(args)); original(...args); };
  }
  window.addEventListener("error", (event) => {
    const t = event.target;
    if (t && t !== window && t.tagName) {
      consoleLog.push("failed to load <" + t.tagName.toLowerCase() + "> " + (t.currentSrc || t.src || t.href || t.data || ""));
    } else {
      consoleLog.push("uncaught: " + event.message);
    }
  }, true);
  window.addEventListener("unhandledrejection", (event) => consoleLog.push("unhandled rejection: " + describe([event.reason])));
  // Desktop Anki shows dialogs and defines the bridge; here they are recorded (a headless dialog would hang the page).
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = (...args) => { activity.push(name + "(" + describe(args).slice(0, 200) + ")"); return name === "confirm" ? false : null; };
  }
  const REVIEWER_COMMANDS = new Set(["updateToolbar", "repaintNeeded"]);
  window.pycmd = window.bridgeCommand = (command) => {
    if (!REVIEWER_COMMANDS.has(String(command))) activity.push("pycmd(" + String(command).slice(0, 200) + ")");
    return false;
  };

  const ACTIVE = new Set(["script", "iframe", "frame", "frameset", "object", "embed", "applet", "audio", "video",
    "source", "track", "base", "meta", "link", "form", "portal", "fencedframe", "animate", "set", "animatemotion",
    "animatetransform", "foreignobject"]);
  const LOAD_ATTRIBUTES = new Set(["src", "srcset", "imagesrcset", "poster", "data", "background", "lowsrc", "dynsrc",
    "codebase", "archive", "ping", "manifest"]);
  const HREF_LOADS = new Set(["link", "image", "use", "feimage", "script"]);
  const LINK_ATTRIBUTES = new Set(["href", "xlink:href", "action", "formaction"]);
  const CSS_PROPERTIES = ["background-image", "list-style-image", "border-image-source", "mask-image",
    "-webkit-mask-image", "-webkit-mask-box-image-source", "content", "cursor", "shape-outside", "filter", "clip-path"];
  const MATHJAX_SKIPS = "mjx-container, script, noscript, style, textarea, pre, code, annotation, annotation-xml";
  let media = new Set();

  const short = (text, n) => (text.length > n ? text.slice(0, n) + "…" : text);
  const resolve = (value) => { try { return new URL(value.trim(), document.baseURI).href; } catch (e) { return value; } };
  const isLocal = (url) => {
    let parsed;
    try { parsed = new URL(url); } catch (e) { return false; }
    if (parsed.origin !== location.origin) return false;
    let path;
    try { path = decodeURIComponent(parsed.pathname); } catch (e) { return false; }
    return path.startsWith("/_anki/") || media.has(path.slice(1));
  };
  const cssUrls = (text) => {
    const urls = [];
    const patterns = [
      /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)'"\s]*))\s*\)/gi,
      /@import\s+(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')/gi,
      /image-set\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')/gi,
    ];
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        const value = match[1] ?? match[2] ?? match[3] ?? "";
        if (value) urls.push(value.replace(/\\(.)/g, "$1"));
      }
    }
    return urls;
  };
  const sheetText = (sheet) => {
    const parts = [];
    const walk = (rules) => {
      for (const rule of rules) {
        if (rule.href !== undefined && rule.href) parts.push('@import "' + rule.href + '";');
        parts.push(rule.cssText);
        if (rule.cssRules) walk(rule.cssRules);
      }
    };
    try { if (sheet) walk(sheet.cssRules); } catch (e) { /* cross-origin sheet */ }
    return parts.join("\n");
  };

  function collect(noteCss) {
    const links = [], loads = [], scripts = [], errors = [];
    const addLoad = (value) => {
      if (value.trim().startsWith("#")) return;  // an element of this page, e.g. <use href="#glyph">
      const url = resolve(value);
      if (!isLocal(url) && !loads.includes(short(url, 300))) loads.push(short(url, 300));
    };
    const addLink = (value) => { if (!links.includes(value)) links.push(value); };
    const noteStyle = (noteCss !== null && qa.firstChild && qa.firstChild.nodeName === "STYLE"
      && qa.firstChild.textContent === noteCss) ? qa.firstChild : null;
    const elements = [qa, ...qa.querySelectorAll("*")];
    for (const el of elements) {
      const tag = el.localName.toLowerCase();
      const inMath = el.closest("mjx-container") !== null;
      if (ACTIVE.has(tag)) scripts.push("<" + tag + "> " + short(el.outerHTML, 200));
      if (tag === "style") {
        if (el !== noteStyle) scripts.push("<style> " + short(el.textContent, 200));
        for (const url of cssUrls(el.textContent + "\n" + sheetText(el.sheet))) addLoad(url);
      }
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value;
        if (name.startsWith("on")) scripts.push("<" + tag + " " + name + '="' + short(value, 200) + '">');
        if (name === "style") {
          if (!inMath && el !== qa) scripts.push("<" + tag + ' style="' + short(value, 200) + '">');
          for (const url of cssUrls(value + "\n" + el.style.cssText)) addLoad(url);
        }
        if (LINK_ATTRIBUTES.has(name)) {
          addLink(value);
          if (HREF_LOADS.has(tag) && name !== "action" && name !== "formaction") addLoad(value);
        }
        if (LOAD_ATTRIBUTES.has(name)) {
          if (name === "srcset" || name === "imagesrcset") {
            for (const candidate of value.split(",")) { const url = candidate.trim().split(/\s+/)[0]; if (url) addLoad(url); }
          } else if (name === "archive") {
            for (const url of value.split(/[\s,]+/)) if (url) addLoad(url);
          } else if (name !== "data" || tag === "object") {
            addLoad(value);
          }
        }
      }
      if (el === qa || el === noteStyle) continue;
      // CSS from any source (a field's <style>, a note type rule, \style) that makes this element load something.
      for (const pseudo of [null, "::before", "::after"]) {
        const style = getComputedStyle(el, pseudo);
        for (const property of CSS_PROPERTIES) {
          const value = style.getPropertyValue(property);
          if (value && value.includes("url(")) for (const url of cssUrls(value)) addLoad(url);
        }
      }
    }
    for (const el of [document.documentElement, document.body]) {
      const style = getComputedStyle(el);
      for (const property of CSS_PROPERTIES) {
        const value = style.getPropertyValue(property);
        if (value && value.includes("url(")) for (const url of cssUrls(value)) addLoad(url);
      }
    }
    // MathJax errors: merror nodes (noerrors shows the TeX, with the message in data-mjx-error), and
    // typesetting that failed as a whole (the reviewer catches that and shows the card without math).
    for (const el of qa.querySelectorAll("[data-mjx-error]")) {
      if (!el.closest("mjx-assistive-mml")) errors.push(el.getAttribute("data-mjx-error"));
    }
    for (const el of qa.querySelectorAll("mjx-merror")) {
      if (!el.closest("[data-mjx-error]") && !el.closest("mjx-assistive-mml")) errors.push(el.textContent);
    }
    errors.push(...typesetFailures);
    // Read MathJax's internal MathML of this side's formulas: undefined macros, which noundefined shows as
    // red text instead of an error, and the attributes the TeX itself asked for (\style, \class, \cssId).
    if (window.MathJax && MathJax.startup && MathJax.startup.document) {
      for (const item of MathJax.startup.document.math) {
        if (!item.root || !item.typesetRoot || !qa.contains(item.typesetRoot)) continue;
        item.root.walkTree((node) => {
          if (!node.attributes || !node.attributes.getExplicit) return;
          for (const name of ["style", "class", "id"]) {
            const value = node.attributes.getExplicit(name);
            if (value !== undefined && value !== null && value !== "") {
              scripts.push("TeX " + name + '="' + short(String(value), 200) + '" on <' + node.kind + ">");
            }
          }
          if (node.kind === "mtext" && node.attributes.getExplicit("mathcolor") && node.childNodes.length === 1
              && node.childNodes[0].getText) {
            const text = node.childNodes[0].getText();
            if (/^\\([a-zA-Z]+|.)$/.test(text)) errors.push("undefined control sequence " + text);
          }
        });
      }
    }
    // Delimiters MathJax left in the text: math it did not find (e.g. unbalanced braces) or never typeset.
    const walker = document.createTreeWalker(qa, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!/\\[(\[]/.test(node.data)) continue;
      const parent = node.parentElement;
      if (parent && (parent.closest(MATHJAX_SKIPS) || parent.closest(".tex2jax_ignore, .mathjax_ignore"))) continue;
      errors.push("untypeset: " + short(node.data.trim(), 200));
    }
    for (const call of activity) scripts.push(call);
    const result = {
      mathjax_errors: errors,
      links: links,
      remote_loads: loads,
      scripts: scripts,
      typeset_count: qa.querySelectorAll("mjx-container").length,
      text: qa.innerText,
      console: consoleLog,
    };
    consoleLog = [];
    activity = [];
    typesetFailures = [];
    return result;
  }

  // Resolves once the reviewer's queue has run everything queued so far (the side is shown and typeset).
  const queueDone = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the reviewer did not finish a card within 30 s")), 30000);
    _queueAction(() => { clearTimeout(timer); resolve(); });
  });
  // ...and the side's images have loaded or failed, and their handlers have run.
  const settled = async () => {
    await queueDone();
    const pending = Array.from(qa.querySelectorAll("img"), (img) => img.complete ? null : new Promise((resolve) => {
      img.addEventListener("load", resolve); img.addEventListener("error", resolve);
    })).filter(Boolean);
    if (pending.length) await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 2000))]);
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  const mark = (index, side) => post("/__deckgen/mark?card=" + index + "&side=" + side);

  async function run() {
    const job = await (await post("/__deckgen/job")).json();
    media = new Set(job.media);
    // The caller's probe reads the side as shown; the screenshot is taken after it, with the page as it was.
    const probe = job.probe ? (0, eval)("(" + job.probe + ")") : null;
    const shots = new Set(job.shots);
    const look = async (index, side, result) => {
      if (probe) {
        try { result.probe = probe(qa, side); } catch (error) { throw new Error("the probe failed on card " + index + " " + side + ": " + describe([error])); }
      }
      if (shots.has(index)) await post("/__deckgen/shot?card=" + index + "&side=" + side);
    };
    performance.setResourceTimingBufferSize(100000);
    _blockDefaultDragDropBehavior();
    // A first formula makes the reviewer load MathJax its own way; then typeset failures can be seen.
    _showQuestion("\\(x\\)", "", "card card1 " + job.bodyClass);
    await settled();
    if (!window.MathJax || typeof MathJax.typesetPromise !== "function" || !qa.querySelector("mjx-container")) {
      throw new Error("MathJax did not load or typeset: " + stringify(consoleLog));
    }
    const typesetPromise = MathJax.typesetPromise.bind(MathJax);
    MathJax.typesetPromise = (...args) => typesetPromise(...args).catch((error) => {
      typesetFailures.push("typeset failed: " + describe([error]));
      throw error;
    });
    consoleLog = [];
    activity = [];
    performance.clearResourceTimings();
    const cards = [];
    const sides = [];  // [start time, side] in the order shown
    for (let i = 0; i < job.cards.length; i++) {
      const card = job.cards[i];
      const bodyClass = "card card" + (card.ord + 1) + " " + job.bodyClass;
      await mark(i, "question");
      const questionStart = performance.now();
      _showQuestion(card.q, card.a, bodyClass);
      await settled();
      const question = collect(card.qCss);
      await look(i, "question", question);
      await mark(i, "answer");
      const answerStart = performance.now();
      _showAnswer(card.a);
      await settled();
      const answer = collect(card.aCss);
      await look(i, "answer", answer);
      cards.push({ question, answer });
      sides.push([questionStart, question], [answerStart, answer]);
    }
    await mark(job.cards.length, "end");
    // What the page really fetched (other hosts reach us through the proxy), given to the side that was
    // being shown when the fetch started: responses may come in after that side was read.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = [];
    for (const entry of performance.getEntriesByType("resource")) {
      const url = new URL(entry.name);
      if (url.origin === location.origin && url.pathname.startsWith("/__deckgen/")) continue;
      if (isLocal(entry.name)) continue;
      let owner = null;
      for (const [start, side] of sides) { if (start <= entry.startTime) owner = side; else break; }
      const shown = short(entry.name, 300);
      if (owner === null) before.push(shown);
      else if (!owner.remote_loads.includes(shown)) owner.remote_loads.push(shown);
    }
    return { cards, before };
  }

  run().then(
    (result) => post("/__deckgen/result", { method: "POST", body: stringify(result) }),
    (error) => post("/__deckgen/result", { method: "POST", body: stringify({ fatal: describe([error]) }) }),
  );
})();
"""
