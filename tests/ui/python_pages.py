#!/usr/bin/env python3
"""The bundled Python pages against stored markup, in a real browser: Playwright driving
Debian's Chromium against a controller that tests/tests/web_security.rs started, with a host
name and an interface name that are markup (each part, if it ran, sets window.__pwned or the
title to "1").

    python_pages.py SPEC.json

SPEC (written by the Rust test): url, user, password (an admin), pages (every bundled page's
path), shown ([[path, text]]: a page and the stored markup it must show as text), nonce_page
(a page with exactly one script, carrying the response's nonce), out (a directory for
screenshots).

Signed in through the /login form (a same-origin POST); on every page no stored markup ran or
became elements, and no console error or uncaught exception (a markup <img src=x> that became
an element would also show as a failed load). Exits non-zero with the reason on the first
failed check.
"""

import re

import common
from common import Errors, check, log, shot


def main(spec, p):
    url = spec["url"]
    out = spec["out"]
    browser = common.launch(p)
    page = browser.new_page(viewport=common.DESKTOP)
    page.set_default_timeout(20_000)
    errors = Errors(page)
    common.CURRENT[:] = [page]

    # Signed in through the form: back on the default page.
    page.goto(url + "/login")
    page.locator("input[name=username]").fill(spec["user"])
    page.locator("input[name=password]").fill(spec["password"])
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    path = page.evaluate("location.pathname")
    check(path == "/python/hosts.py", f"signed in: at {path}, not /python/hosts.py")
    errors.none("sign-in")

    # Every page: no stored markup ran as script or became elements.
    check(len(spec["pages"]) > 0, "no page to open")
    for path in spec["pages"]:
        page.goto(url + path)
        pwned = page.evaluate("String(window.__pwned)")
        check(pwned == "undefined", f"{path}: a stored name ran as script (window.__pwned = {pwned})")
        title = page.evaluate("document.title")
        check(title != "1", f"{path}: a stored name ran as script (document.title = 1)")
        imgs = page.locator("img[src=x]").count()
        check(imgs == 0, f"{path}: markup became elements ({imgs} img[src=x])")
        errors.none(path)
        shot(page, out, re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_"))

    # The names are visible as text where the pages show them.
    check(len(spec["shown"]) > 0, "no page whose text to check")
    for path, want in spec["shown"]:
        page.goto(url + path)
        text = page.evaluate("document.title + '\\n' + document.body.innerText")
        check(want in text, f"{path}: the stored {want!r} is not shown as text: {text}")
        errors.none(path)

    # The region map's own script carries the response's nonce (python.rs's
    # region_map_draws_and_zooms_in_a_browser clicks through it under this policy).
    page.goto(url + spec["nonce_page"])
    n = page.locator("script[nonce]").count()
    check(n == 1, f"{spec['nonce_page']}: {n} scripts with a nonce, want 1")
    errors.none(spec["nonce_page"])
    browser.close()
    log(f"screenshots in {out}")
    log("python pages: every check passed")


if __name__ == "__main__":
    common.run(main, __doc__)
