#!/usr/bin/env python3
"""The bundled region map (/python/region_map.py) in a real browser: Playwright driving Debian's
Chromium against a controller that tests/tests/python.rs started (two probes replayed, GeoIP
from the test's database).

    region_map.py SPEC.json

SPEC (written by the Rust test): url, user, password (an admin), countries (the codes of the
API's /api/v1/geo/countries: each must be shaded), unshaded (a code with no hosts: the default
grey), chosen (the country clicked), cities (how many located cities the API has for it),
unknown_city (whether it has hosts of no known city: a row '(unknown city)'), out (a directory
for screenshots).

Not signed in, the page sends the browser to the sign-in form, which sends it back; a click on
a country opens its cities. No console error or uncaught exception on any of these pages.
Exits non-zero with the reason on the first failed check.
"""

import common
from common import Errors, check, log, shot

# The map's default fill of a country without hosts (region_map.html).
GREY = "rgb(228, 228, 228)"


def fill(page, code):
    """The computed fill of a country's first path, or None when the map has no such country."""
    return page.evaluate(
        "c => { const p = document.querySelector(`#worldmap .${c} path`); return p && getComputedStyle(p).fill }",
        code.lower(),
    )


def main(spec, p):
    url = spec["url"]
    out = spec["out"]
    browser = common.launch(p)
    page = browser.new_page(viewport=common.DESKTOP)
    page.set_default_timeout(20_000)
    errors = Errors(page)
    common.CURRENT[:] = [page]

    # Not signed in: the sign-in form, which comes back to the map.
    page.goto(url + "/python/region_map.py")
    path = page.evaluate("location.pathname")
    check(path == "/login", f"not signed in: at {path}, not the sign-in form")
    errors.none("sign-in form")
    page.locator("input[name=username]").fill(spec["user"])
    page.locator("input[name=password]").fill(spec["password"])
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    path = page.evaluate("location.pathname")
    check(path == "/python/region_map.py", f"after sign-in: at {path}, not back on the map")
    cookie = page.evaluate("document.cookie")
    check(cookie == "", f"the session cookie is readable by scripts (not HttpOnly): {cookie!r}")

    # Countries with hosts are shaded (a computed fill other than the default grey); others not.
    check(len(spec["countries"]) > 0, "the API locates no country: nothing to check")
    for code in spec["countries"]:
        f = fill(page, code)
        check(f is not None, f"{code}: not on the map")
        check(f != GREY, f"{code} is not shaded ({f})")
    f = fill(page, spec["unshaded"])
    check(f == GREY, f"{spec['unshaded']} has no hosts but its fill is {f}, not {GREY}")
    errors.none("region map")
    shot(page, out, "region-map")

    # Clicking a country (its shape, as the map's own script listens) opens its cities.
    code = spec["chosen"]
    with page.expect_navigation():
        page.locator(f"#worldmap .{code.lower()} path").first.dispatch_event("click")
    search = page.evaluate("location.search")
    check(search == f"?country={code}", f"after the click on {code}: location.search {search!r}")
    rows = page.locator("#cities tr").count()
    want = 1 + spec["cities"] + (1 if spec["unknown_city"] else 0)
    check(rows == want, f"{code}: {rows} rows in #cities, want header + {spec['cities']} cities"
          + (" + '(unknown city)'" if spec["unknown_city"] else ""))
    dots = page.locator("#cityplot circle").count()
    check(dots == spec["cities"], f"{code}: {dots} dots in #cityplot, want one per located city ({spec['cities']})")
    errors.none(f"region map of {code}")
    shot(page, out, f"region-map-{code}")
    browser.close()
    log(f"screenshots in {out}")
    log("region map: every check passed")


if __name__ == "__main__":
    common.run(main, __doc__)
