"""What the browser scripts under tests/ui/ share: Playwright driving Debian's Chromium (no
browser download), the checks that stop a script with its reason, a page's console errors,
screenshots, the API's sign-in, and the run that loads a script's JSON spec and, when a check
fails or a wait times out, screenshots the page it happened on.

A script is run as `python3 tests/ui/NAME.py SPEC.json` (its directory is on sys.path, so
`import common` finds this file), written as

    def main(spec, p):                   # p: the started sync Playwright
        browser = common.launch(p)
        page = browser.new_page()
        common.CURRENT[:] = [page]       # the page a failure is shown on
        ...

    if __name__ == "__main__":
        common.run(main, __doc__)

console.py, admin.py, region_map.py and python_pages.py use it.
"""

import json
import os
import re
import sys
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The page a failure is shown on (its screenshot is written on the way out).
CURRENT = []
# Started by run() and stopped after a failure's screenshot.
PLAYWRIGHT = []


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def log(msg):
    print(msg, flush=True)


def launch(p):
    """Headless Debian Chromium (scripts/setup installs it; Playwright downloads no browser)."""
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


class Errors:
    """A page's console errors and uncaught exceptions, per step."""

    def __init__(self, page):
        self.items = []
        page.on("console", lambda m: self.items.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.items.append(f"pageerror: {e}"))
        # Which request a "Failed to load resource" line was (the browser's line omits it).
        self.failed = []
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)

    def take(self):
        out, self.items = self.items, []
        return out

    def none(self, step, allowed=()):
        """No error in this step but the failed requests `allowed` names (regexes)."""
        bad = [e for e in self.take() if not any(re.search(a, e) for a in allowed)]
        failed, self.failed = self.failed, []
        check(not bad, f"{step}: console errors: {bad} (refused requests: {failed})")


def api(url, token, path, method="GET", body=None):
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def token(url, user, password):
    return api(url, None, "/api/v1/auth/login", "POST", {"username": user, "password": password})["access_token"]


def shot(page, out, name):
    page.screenshot(path=os.path.join(out, f"{name}.png"), full_page=True)


def no_horizontal_scroll(page, what):
    w = page.evaluate("document.documentElement.scrollWidth")
    check(w <= PHONE["width"], f"{what} at 390x844: scrollWidth {w} > 390")


def run(main, doc):
    """`SCRIPT SPEC.json`: main(spec, playwright); on any failure the current page's
    screenshot (spec["out"]/failure.png), its URL and text are printed before the error."""
    if len(sys.argv) != 2:
        print(doc, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec.get("out"):
        os.makedirs(spec["out"], exist_ok=True)
    PLAYWRIGHT.append(sync_playwright().start())
    try:
        main(spec, PLAYWRIGHT[0])
    except BaseException:
        # What the page showed when a check timed out or failed.
        if CURRENT and spec.get("out"):
            try:
                CURRENT[0].screenshot(path=os.path.join(spec["out"], "failure.png"), full_page=True)
                print(f"the page at the failure: {CURRENT[0].url}, {spec['out']}/failure.png", flush=True)
                print(CURRENT[0].inner_text("body")[:3000], flush=True)
            except Exception as e:
                print(f"(no screenshot of the failure: {e})", flush=True)
        raise
    finally:
        PLAYWRIGHT[0].stop()
