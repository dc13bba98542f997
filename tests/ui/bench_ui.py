#!/usr/bin/env python3
"""The web console's load times (scripts/bench-ui): Playwright driving Debian's Chromium with a
CPU throttle (DevTools' Emulation.setCPUThrottlingRate) against a controller that
tests/src/bin/bench-ui.rs started with many hosts stored.

    bench_ui.py SPEC.json

SPEC (written by the bench): url, user, password (an admin), throttle (the CPU slowdown, e.g.
4), runs (measured runs per page, after one warm-up), pages ([{name, path, ready_css or
ready_js, rows?}]: the page is ready when the CSS selector matches an element with a box, or
when the JavaScript expression is true; rows: how many `table.hosts tbody tr` it must show
then), out (a directory for screenshots), results (a file for the figures, as JSON).

Each measurement opens a fresh page already signed in as the app keeps a session (the refresh
token in localStorage under wirewatch.refresh; the page refreshes it into an access token as a
reload does) and times, in the page, from the navigation's start (performance.timeOrigin) to the
frame after the ready condition first holds. "cold": a new browser context each time (empty
HTTP cache: the console's JS and CSS downloaded, parsed and compiled again); "warm": a second
page in that context (assets from the cache). Every measured page must end without an error
shown, a console error or an uncaught exception. Prints one figure per line.
"""

import gzip
import json
import os
import statistics

import common
from common import Errors, api, check, log

REFRESH_KEY = "wirewatch.refresh"

# Installed before the app's scripts run: records the time of the frame after `ready()` first
# holds (checked on every DOM change; a box means the element is laid out, i.e. visible).
OBSERVER = """
(() => {
  if (location.href === 'about:blank') return;
  const ready = %s;
  let seen = false;
  const test = () => {
    if (seen || !document.documentElement) return;
    let ok = false;
    try { ok = !!ready(); } catch (e) { ok = false; }
    if (!ok) return;
    seen = true;
    window.__wwMatchedAt = performance.now();
    requestAnimationFrame(() => setTimeout(() => { window.__wwReadyAt = performance.now(); }, 0));
  };
  new MutationObserver(test).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  test();
})();
"""

# A fixed amount of JavaScript work, to see the throttle at work (ms).
SPIN = "() => { const t = performance.now(); let x = 0; for (let i = 0; i < 3e7; i++) x = (x + i * 7) % 1000003; return performance.now() - t + (x < 0 ? 1 : 0) }"


# Where the time went, from the page's own timings (ms from the navigation's start).
TIMELINE = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const assets = performance.getEntriesByType('resource').filter(e => /\\.(js|css)$/.test(e.name));
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {document: n.responseEnd, assets: Math.max(0, ...assets.map(e => e.responseEnd)),
          dom_content_loaded: n.domContentLoadedEventEnd, first_paint: fcp ? fcp.startTime : null,
          ready_in_dom: window.__wwMatchedAt};
}"""


def ready_fn(pg):
    if "ready_css" in pg:
        sel = json.dumps(pg["ready_css"])
        return f"() => {{ const e = document.querySelector({sel}); return e && e.getClientRects().length > 0 }}"
    return f"() => ({pg['ready_js']})"


def fresh_context(browser, url, refresh):
    return browser.new_context(
        viewport=common.DESKTOP,
        storage_state={"cookies": [], "origins": [{"origin": url, "localStorage": [{"name": REFRESH_KEY, "value": refresh}]}]},
    )


def measure(ctx, url, pg, throttle, assets=None, detail=None, spin=False):
    """One navigation to the page in a new page of `ctx`: (ms to ready, the refresh token the
    page left in storage, the throttled spin in ms or None). `assets` gets the JS and CSS
    loaded (url: body), `detail` the API's requests and the page's timeline."""
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    common.CURRENT[:] = [page]
    errors = Errors(page)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.add_init_script(OBSERVER % ready_fn(pg))
    responses = []
    page.on("response", lambda r: responses.append(r))
    page.goto(url + pg["path"], wait_until="commit")
    page.wait_for_function("() => window.__wwReadyAt !== undefined")
    ms = page.evaluate("window.__wwReadyAt")
    alerts = page.get_by_role("alert")
    check(alerts.count() == 0, f"{pg['path']}: an error is shown: {alerts.all_inner_texts()}")
    if "rows" in pg:
        n = page.locator("table.hosts tbody tr").count()
        check(n == pg["rows"], f"{pg['path']}: {n} host rows shown, want {pg['rows']}")
    if assets is not None:
        for r in responses:
            if r.request.resource_type in ("script", "stylesheet") and r.ok:
                assets[r.url] = r.body()
    if detail is not None:
        detail["api"] = []
        for e in page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
            ".map(e => [e.name, e.startTime, e.responseEnd])"
        ):
            detail["api"].append((e[0][len(url):], e[1], e[2] - e[1]))
        detail["timeline"] = page.evaluate(TIMELINE)
    spun = min(page.evaluate(SPIN) for _ in range(3)) if spin else None
    refresh = page.evaluate(f"localStorage.getItem('{REFRESH_KEY}')")
    check(refresh, f"{pg['path']}: signed out after the page loaded (no refresh token stored)")
    errors.none(pg["path"])
    page.close()
    return ms, refresh, spun


def figures(name, kind, values):
    med = statistics.median(values)
    log(f"{name}_ms {kind}: median={med:.0f} max={max(values):.0f} runs={','.join(f'{v:.0f}' for v in values)}")
    return med, max(values)


def main(spec, p):
    url = spec["url"]
    throttle = spec["throttle"]
    runs = spec["runs"]
    check(runs >= 1, "runs must be at least 1")
    pair = api(url, None, "/api/v1/auth/login", "POST", {"username": spec["user"], "password": spec["password"]})
    refresh = pair["refresh_token"]
    browser = common.launch(p)

    # The throttle at work: the same JavaScript with and without it (the fastest of 3 each: the
    # 2 cores are shared, so single runs are noisy).
    page = browser.new_page()
    page.goto(url + "/healthz")
    plain = min(page.evaluate(SPIN) for _ in range(3))
    page.close()

    results = {}
    for pg in spec["pages"]:
        name = pg["name"]
        # One warm-up (the database's cache, the controller's first queries), not counted.
        ctx = fresh_context(browser, url, refresh)
        ms, refresh, spun = measure(ctx, url, pg, throttle, spin=True)
        ctx.close()
        log(f"{name}: warm-up {ms:.0f} ms; cpu throttle {throttle}x: spin {spun:.0f} ms vs {plain:.0f} ms unthrottled "
            f"({spun / plain:.1f}x)")
        check(spun / plain > throttle / 2, f"{name}: the CPU throttle did not hold across the navigation")
        cold, warm, assets, detail = [], [], {}, {}
        for i in range(runs):
            last = i == runs - 1
            ctx = fresh_context(browser, url, refresh)
            ms, refresh, _ = measure(ctx, url, pg, throttle, assets=assets if i == 0 else None,
                                     detail=detail if last else None)
            cold.append(ms)
            ms, refresh, _ = measure(ctx, url, pg, throttle)
            warm.append(ms)
            if last:
                page = ctx.new_page()
                page.add_init_script(OBSERVER % ready_fn(pg))
                page.goto(url + pg["path"])
                page.wait_for_function("() => window.__wwReadyAt !== undefined", timeout=120_000)
                page.screenshot(path=os.path.join(spec["out"], f"{name}.png"), full_page=True)
                refresh = page.evaluate(f"localStorage.getItem('{REFRESH_KEY}')")
            ctx.close()
        raw = sum(len(b) for b in assets.values())
        gz = sum(len(gzip.compress(b, 9)) for b in assets.values())
        check(assets, f"{name}: no JS or CSS loaded")
        log(f"{name}_js_css: {len(assets)} files, {raw} B, {gz} B gzip ({gz / 1024:.1f} KiB)")
        t = detail["timeline"]
        log(f"{name}_timeline (last cold run, ms): document {t['document']:.0f}, JS+CSS {t['assets']:.0f}, "
            f"DOMContentLoaded {t['dom_content_loaded']:.0f}, first paint {t['first_paint'] or 0:.0f}, "
            f"ready in the DOM {t['ready_in_dom']:.0f}, its frame {cold[-1]:.0f}")
        for path, start, dur in detail["api"]:
            log(f"{name}_api (last cold run): {path} started at {start:.0f} ms, took {dur:.0f} ms")
        cmed, cmax = figures(name, f"cold (new context, {throttle}x cpu)", cold)
        wmed, wmax = figures(name, f"warm (cached assets, {throttle}x cpu)", warm)
        results[name] = {"cold_median": cmed, "cold_max": cmax, "warm_median": wmed, "warm_max": wmax,
                         "cold": cold, "warm": warm, "js_css_raw": raw, "js_css_gzip": gz}
    browser.close()
    with open(spec["results"], "w") as f:
        json.dump(results, f)
    log(f"screenshots in {spec['out']}")


if __name__ == "__main__":
    common.run(main, __doc__)
