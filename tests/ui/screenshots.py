#!/usr/bin/env python3
"""The README's screenshots from a running demo (scripts/screenshots starts it).

    screenshots.py URL USER PASSWORD OUT_DIR [DEMO_PID]

Waits for the controller (up to 30 minutes: the demo builds first), then until every probe is
online, an alarm is open and the sites' throughput has several points; writes
console-overview.png (desktop), region-map.png (desktop) and phone-home.png (390x844, live top
talkers). Exits non-zero with the reason if the demo never gets there.
"""

import json
import os
import sys
import time
import urllib.request

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]


def get(url, path, token=None):
    req = urllib.request.Request(url + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def login(url, user, password):
    req = urllib.request.Request(url + "/api/v1/auth/login", method="POST",
                                 data=json.dumps({"username": user, "password": password}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def wait(what, limit, f, pid):
    deadline = time.time() + limit
    while time.time() < deadline:
        if not alive(pid):
            sys.exit(f"screenshots: the demo stopped while waiting for {what}")
        try:
            if f():
                return
        except Exception:
            pass
        time.sleep(5)
    sys.exit(f"screenshots: gave up waiting for {what}")


def main():
    url, user, password, out = sys.argv[1:5]
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
    wait("the controller", 1800, lambda: get(url, "/healthz")["status"] == "ok", pid)
    token = [login(url, user, password)]

    def ready():
        token[0] = login(url, user, password)
        probes = get(url, "/api/v1/probes", token[0])
        events = get(url, "/api/v1/alarms/events?state=open", token[0])["items"]
        ifaces = [i["id"] for p in probes for i in p["interfaces"]]
        points = min(len(get(url, f"/api/v1/interfaces/{i}/history?resolution=raw", token[0])["points"]) for i in ifaces)
        geo = get(url, "/api/v1/geo/countries", token[0])["countries"]
        return probes and all(p["status"] == "online" for p in probes) and events and points >= 12 and len(geo) >= 3

    wait("probes online, an alarm, two minutes of throughput and hosts in three countries", 900, ready, pid)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.goto(url + "/")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("li.site svg.sparkline").first).to_be_visible()
        page.wait_for_timeout(1000)
        page.screenshot(path=os.path.join(out, "console-overview.png"))
        page.goto(url + "/map")
        expect(page.locator("#worldmap a").first).to_be_visible()
        page.wait_for_timeout(500)
        page.screenshot(path=os.path.join(out, "region-map.png"))
        ctx.close()
        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                    has_touch=True)
        page = phone.new_page()
        page.set_default_timeout(30_000)
        page.goto(url + "/m")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("ol.talker-list li[data-ip]").first).to_be_visible()
        expect(page.locator("li.site svg.sparkline").first).to_be_visible()
        page.wait_for_timeout(1000)
        page.screenshot(path=os.path.join(out, "phone-home.png"))
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main()
