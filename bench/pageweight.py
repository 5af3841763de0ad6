"""Page weight on a phone over Slow 4G: what a resident's browser downloads for the pages
they use most, and how soon something appears.

    python bench/pageweight.py

Builds a fresh SQLite database in a temporary instance folder (`pb db upgrade`, `pb demo`),
adds a round in voting with voting codes (through the service layer, as tests/factories.py
does), serves the app with gunicorn (2 workers) on loopback and drives Chromium through
Playwright. Each page is loaded in a fresh phone context (360x740, touch) with the cache
disabled and Chromium's Slow 4G emulation (latency 562.5 ms, 1.44 Mbit/s down, 675 kbit/s
up, as in DevTools) set through the DevTools protocol before navigating:

  ballot page    /rounds/<id>/vote/<contest>   (after typing a voting code at /rounds/<id>/vote)
  proposal list  /rounds/<id>/proposals        (Healthy Neighbourhoods 2027, taking proposals)
  results page   /rounds/<id>/results          (Green Streets 2026, published)
  round page     /rounds/<id>                  (Healthy Neighbourhoods 2027)

and /healthz (plain text, no database) as the baseline. Bytes are the sum of
`encodedDataLength` of `Network.loadingFinished` (bytes on the wire, response headers
included); 1 KB = 1,000 bytes. Targets per page: under 30 KB transferred, at most 4
requests, no request to any other host. Exits 1 if a page misses a target.
"""

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
SLOW_4G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.6 * 1000 * 1000 / 8 * 0.9,
    "uploadThroughput": 750 * 1000 / 8 * 0.9,
}
TARGET_BYTES = 30_000
TARGET_REQUESTS = 4

CONVENER = "lead@riverside-nhs.example"
ANCHOR = "Riverside and Eastgate NHS Foundation Trust"
MEMBER = "chair@eastgate-ra.example"
GROUP = "Eastgate Residents' Association"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url, instance):
    """Migrations and the demo through the `pb` command, then a round in voting with codes.
    Returns the ids of the pages to measure and one voting code."""
    env = {**os.environ, "PB_DATABASE_URL": url, "PB_INSTANCE_PATH": instance}
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([str(BIN / "pb"), *command], cwd=ROOT, env=env, check=True, capture_output=True)

    from sqlmodel import select

    from pb import create_app
    from pb.db import session_scope
    from pb.rounds.models import Round
    from tests.factories import make_codes, make_round, open_voting

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})

    def db(write=True):
        return session_scope(app.extensions["pb_engine"], write=write)

    with app.app_context():
        ids = make_round(app, db, convener=CONVENER, anchor=ANCHOR, methods=("codes",))
        code = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)[0]  # before voting opens
        open_voting(app, db, ids, convener=CONVENER, screener=CONVENER, member=MEMBER, group=GROUP)
        with db(write=False) as session:
            by_title = {r.title: r.id for r in session.exec(select(Round))}
    app.extensions["pb_engine"].dispose()
    return {
        "voting_round": ids["round"],
        "contest": ids["contests"]["North"],
        "code": code,
        "taking_proposals": by_title["Healthy Neighbourhoods 2027"],
        "published": by_title["Green Streets 2026"],
    }


def serve(url, instance, port):
    env = {
        **os.environ,
        "PB_DATABASE_URL": url,
        "PB_INSTANCE_PATH": instance,
        "PB_SESSION_COOKIE_SECURE": "false",
        "PB_REMEMBER_COOKIE_SECURE": "false",
    }
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {gunicorn.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return gunicorn
        except OSError:
            pass
        time.sleep(0.1)
    gunicorn.kill()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def kind_of(resource_type, mime):
    if resource_type == "Document":
        return "html"
    if resource_type == "Stylesheet" or mime == "text/css":
        return "css"
    if resource_type == "Script" or mime in ("application/javascript", "text/javascript"):
        return "js"
    return "other"


FCP_JS = """() => new Promise(resolve => {
  const found = () => performance.getEntriesByName('first-contentful-paint')[0];
  if (found()) return resolve(found().startTime);
  new PerformanceObserver(() => found() && resolve(found().startTime)).observe({type: 'paint', buffered: true});
  setTimeout(() => resolve(found() ? found().startTime : null), 5000);
})"""


def measure(browser, origin, path, prepare=None):
    """Load `path` in a fresh phone context under Slow 4G with the cache disabled."""
    context = browser.new_context(**PHONE)
    try:
        if prepare:
            prepare(context)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        requests, finished, failed, sent_headers = {}, {}, {}, {}

        def on_request(event):
            requests[event["requestId"]] = {
                "url": event["request"]["url"],
                "type": event.get("type", "Other"),
                "mime": "",
                "status": None,
                "encoding": None,
            }

        def on_response(event):
            entry = requests.setdefault(
                event["requestId"], {"url": event["response"]["url"], "type": event.get("type", "Other")}
            )
            headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
            entry.update(
                mime=event["response"].get("mimeType", ""),
                status=event["response"]["status"],
                encoding=headers.get("content-encoding"),
            )

        def on_extra(event):
            sent_headers[event["requestId"]] = {k.lower(): v for k, v in event["headers"].items()}

        cdp.on("Network.requestWillBeSent", on_request)
        cdp.on("Network.responseReceived", on_response)
        cdp.on("Network.requestWillBeSentExtraInfo", on_extra)
        cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]))
        cdp.on("Network.loadingFailed", lambda e: failed.__setitem__(e["requestId"], e.get("errorText")))
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)

        response = page.goto(origin + path, wait_until="load", timeout=120_000)
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=15_000)
        # The favicon is fetched by the browser itself, after the load event and outside
        # Playwright's idea of "network idle": wait until every request seen has ended.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and set(requests) - set(finished) - set(failed):
            page.wait_for_timeout(100)
        pending = sorted(r["url"] for rid, r in requests.items() if rid not in finished and rid not in failed)
        fcp = page.evaluate(FCP_JS)
        load = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : null; }"
        )
        status = response.status if response else None
    finally:
        context.close()

    host = urlsplit(origin).netloc
    network = {rid: r for rid, r in requests.items() if urlsplit(r["url"]).scheme in ("http", "https", "ws", "wss")}
    split = {"html": 0, "css": 0, "js": 0, "other": 0}
    for rid, size in finished.items():
        if rid in network:
            split[kind_of(network[rid]["type"], network[rid].get("mime", ""))] += size
    document = next((rid for rid, r in network.items() if r["type"] == "Document"), None)
    return {
        "status": status,
        "bytes": sum(split.values()),
        "split": split,
        "requests": len(network),
        "paths": sorted(urlsplit(r["url"]).path for r in network.values()),
        "third_party": sorted(r["url"] for r in network.values() if urlsplit(r["url"]).netloc != host),
        "failed": sorted(network[rid]["url"] for rid in failed if rid in network),
        "pending": pending,
        "fcp": fcp,
        "load": load,
        "accept_encoding": sent_headers.get(document, {}).get("accept-encoding"),
        "content_encodings": sorted({r.get("encoding") or "none" for r in network.values()}),
    }


def sign_in_with_code(origin, round_id, code):
    def prepare(context):
        page = context.new_page()
        page.goto(f"{origin}/rounds/{round_id}/vote")
        page.fill("input[name=code]", code)
        with page.expect_navigation():
            page.click("form[action$='/vote/code'] button[type=submit]")
        if not page.url.endswith(f"/rounds/{round_id}/vote/ballots"):
            raise SystemExit(f"voting with the code did not lead to the ballots (at {page.url})")
        page.close()

    return prepare


def report(name, m, targets=True):
    kb = {k: v / 1000 for k, v in m["split"].items()}
    print(
        f"{name} transferred: {m['bytes'] / 1000:.1f} KB "
        f"(html {kb['html']:.1f}, css {kb['css']:.1f}, js {kb['js']:.1f}, other {kb['other']:.1f})"
    )
    print(f"{name} requests: {m['requests']} ({', '.join(m['paths'])})")
    print(
        f"{name} third-party requests: {len(m['third_party'])}"
        + (f" ({', '.join(m['third_party'])})" if m["third_party"] else "")
    )
    if m["pending"]:
        print(
            f"{name} requests unfinished after 20 s (bytes not counted): {len(m['pending'])} ({', '.join(m['pending'])})"
        )
    if m["failed"]:
        print(f"{name} failed requests: {len(m['failed'])} ({', '.join(m['failed'])})")
    if m["fcp"] is not None:
        print(f"{name} first contentful paint (slow 4G): {m['fcp']:.0f} ms")
    else:
        print(f"{name} first contentful paint (slow 4G): none reported; load event at {m['load']:.0f} ms instead")
    print(
        f"{name} compression: Accept-Encoding sent {m['accept_encoding']!r}, Content-Encoding {', '.join(m['content_encodings'])}"
    )
    if not targets:
        return True
    misses = []
    if m["status"] != 200:
        misses.append(f"HTTP status {m['status']}")
    if m["bytes"] >= TARGET_BYTES:
        misses.append(f"{m['bytes'] / 1000:.1f} KB is not under {TARGET_BYTES / 1000:.0f} KB")
    if m["requests"] > TARGET_REQUESTS:
        misses.append(f"{m['requests']} requests is more than {TARGET_REQUESTS}")
    if m["third_party"]:
        misses.append(f"{len(m['third_party'])} third-party requests")
    print(f"{name} targets: " + ("met" if not misses else "missed: " + "; ".join(misses)))
    return not misses


def main():
    from playwright.sync_api import sync_playwright

    work = tempfile.mkdtemp(prefix="pb-bench-pageweight-")
    url = f"sqlite:///{work}/pb.sqlite"
    gunicorn = None
    ok = True
    try:
        ids = seed(url, work)
        port = free_port()
        gunicorn = serve(url, work, port)
        origin = f"http://127.0.0.1:{port}"
        pages = [
            (
                "ballot page",
                f"/rounds/{ids['voting_round']}/vote/{ids['contest']}",
                sign_in_with_code(origin, ids["voting_round"], ids["code"]),
            ),
            ("proposal list", f"/rounds/{ids['taking_proposals']}/proposals", None),
            ("results page", f"/rounds/{ids['published']}/results", None),
            ("round page", f"/rounds/{ids['taking_proposals']}", None),
        ]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                report("baseline /healthz", measure(browser, origin, "/healthz"), targets=False)
                for name, path, prepare in pages:
                    ok &= report(name, measure(browser, origin, path, prepare))
            finally:
                browser.close()
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
