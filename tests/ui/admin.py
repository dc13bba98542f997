#!/usr/bin/env python3
"""The console's account pages in a real browser: Playwright driving Debian's Chromium (no
browser download) against a controller that tests/tests/console_admin.rs started, with sites
`site` and `other_site` and a viewer.

    admin.py SPEC.json

SPEC (written by the Rust test): url, user, password (an admin), viewer, viewer_password,
viewer_new_password (set through the page), operator, operator_password (the user the form
adds), site, other_site, out (a directory for screenshots).

Every step collects the page's console errors and uncaught exceptions; a step that provokes a
refusal on purpose allows only the browser's own report of that failed request. Exits non-zero
with the reason on the first failed check.
"""

import json
import os
import urllib.error
import urllib.request

from playwright.sync_api import expect

import common
from common import CURRENT, DESKTOP, PHONE, Errors, check, log, no_horizontal_scroll, shot

# Set by main() from the spec.
SPEC = {}


def call(url, token, path, method="GET", body=None):
    """(status, JSON body or None) of an API request; refusals are answers, not exceptions."""
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def api(url, token, path, method="GET", body=None):
    status, answer = call(url, token, path, method, body)
    check(200 <= status < 300, f"{method} {path}: {status} {answer}")
    return answer


def sign_in(page, user, password):
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def unlabelled(page):
    """Form controls of the page's main region without a label."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main input, main select, main button')]
            .filter(e => e.tagName === 'BUTTON'
                ? !(e.getAttribute('aria-label') || e.textContent.trim())
                : !((e.labels && e.labels.length) || e.getAttribute('aria-label')))
            .map(e => e.outerHTML)"""
    )


def focus_visible(page, what):
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    check(outline not in ("none", ""), f"{what}: no visible focus ({outline})")


def main(spec, p):
    global SPEC
    SPEC = spec
    url = SPEC["url"]
    out = SPEC["out"]
    os.makedirs(out, exist_ok=True)
    op, op_password, site = SPEC["operator"], SPEC["operator_password"], SPEC["site"]
    admin_token = api(url, None, "/api/v1/auth/login", "POST", {"username": SPEC["user"], "password": SPEC["password"]})[
        "access_token"
    ]
    ids = {u["username"]: u["id"] for u in api(url, admin_token, "/api/v1/users")}

    browser = common.launch(p)
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    errors = Errors(page)
    CURRENT[:] = [page]

    # A deep link to the users page: the sign-in form, then that page; Admin in the menu.
    page.goto(url + "/admin/users")
    sign_in(page, SPEC["user"], SPEC["password"])
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Admin")).to_have_attribute("aria-current", "page")
    expect(page.locator("tr[data-user='admin'] th")).to_contain_text("(you)")
    expect(page.locator(f"tr[data-user='{SPEC['viewer']}'] td.role")).to_have_text("viewer")
    expect(page.locator(f"tr[data-user='{SPEC['viewer']}'] td.user-sites")).to_have_text("every site")
    expect(page.locator(f"tr[data-user='{SPEC['viewer']}'] td.state")).to_have_text("enabled")
    form = page.get_by_role("form", name="Add a user")
    expect(form.get_by_label(SPEC["other_site"])).to_be_disabled()
    check(not unlabelled(page), f"users page: controls without a label: {unlabelled(page)}")
    errors.none("users page")
    shot(page, out, "users-desktop")

    # A refusal shows the API's own message, naming the field.
    form.get_by_label("User name").fill("short")
    form.get_by_label("Password", exact=True).fill("short")
    form.get_by_role("button", name="Add user").click()
    expect(form.get_by_role("alert")).to_contain_text("password: a password needs at least 10 characters")
    errors.none("refused user", [r"status of 400"])

    # An operator limited to one site, through the form.
    form.get_by_label("User name").fill(op)
    form.get_by_label("Password", exact=True).fill(op_password)
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("Only the sites checked").check()
    form.get_by_label(site).check()
    form.get_by_role("button", name="Add user").click()
    status = page.locator("#users-status")
    expect(status).to_contain_text(f"User {op} added (operator, {site})")
    row = page.locator(f"tr[data-user='{op}']")
    expect(row.locator("td.role")).to_have_text("operator")
    expect(row.locator("td.user-sites")).to_have_text(site)
    expect(row.locator("td.state")).to_have_text("enabled")
    expect(form.get_by_role("alert")).to_have_count(0)
    expect(form.get_by_label("User name")).to_have_value("")
    expect(form.get_by_label("User name")).to_be_focused()
    made = [u for u in api(url, admin_token, "/api/v1/users") if u["username"] == op]
    check(
        len(made) == 1 and made[0]["role"] == "operator" and made[0]["sites"] == [site] and not made[0]["disabled"],
        f"the API has {made}",
    )
    ids[op] = made[0]["id"]
    errors.none("add user")
    shot(page, out, "users-added-desktop")

    # The operator signs in in another browser: their site only, no Admin entry.
    octx = browser.new_context(viewport=DESKTOP)
    opage = octx.new_page()
    opage.set_default_timeout(20_000)
    oerrors = Errors(opage)
    opage.goto(url + "/")
    sign_in(opage, op, op_password)
    expect(opage.locator(f"li.site[data-site='{site}']")).to_be_visible()
    expect(opage.locator("li.site")).to_have_count(1)
    expect(opage.locator(".who")).to_contain_text("(operator)")
    onav = opage.get_by_role("navigation", name="Console")
    expect(onav.get_by_role("link", name="API tokens")).to_be_visible()
    check(onav.get_by_role("link", name="Admin").count() == 0, "an operator has the Admin entry")
    op_refresh = opage.evaluate("localStorage.getItem('wirewatch.refresh')")
    check(bool(op_refresh), "no refresh token stored for the operator")
    oerrors.none("operator signed in")
    shot(opage, out, "operator-overview-desktop")

    # The admin disables them, by keyboard: Edit opens the panel (focus on its heading).
    edit = row.get_by_role("button", name=f"Edit {op}")
    edit.focus()
    page.keyboard.press("Enter")
    panel = page.locator(f"#edit-user-{ids[op]}")
    expect(panel.get_by_role("heading", name=f"Edit {op}")).to_be_focused()
    expect(edit).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    check(page.evaluate("document.activeElement.tagName") == "SELECT", "Tab after the panel's heading: not the role")
    focus_visible(page, "the role in the edit panel")
    panel.get_by_label("Disabled").check()
    shot(page, out, "users-edit-desktop")
    panel.get_by_role("button", name="Save").click()
    expect(status).to_contain_text(f"{op} is disabled")
    expect(row.locator("td.state")).to_have_text("disabled")
    expect(panel).to_have_count(0)
    expect(edit).to_be_focused()
    errors.none("disable")

    # Their next call fails, the refresh too: the app says the session is over.
    onav.get_by_role("link", name="Hosts").click()
    expect(opage.locator("p.notice")).to_contain_text("Your session expired, sign in again")
    expect(opage.get_by_role("button", name="Sign in")).to_be_visible()
    code, _ = call(url, None, "/api/v1/auth/refresh", "POST", {"refresh_token": op_refresh})
    check(code == 401, f"the disabled operator's refresh token: {code}")
    sign_in(opage, op, op_password)
    expect(opage.get_by_role("alert")).to_contain_text("Wrong user name or password")
    oerrors.none("disabled operator", [r"status of 401"])
    shot(opage, out, "operator-disabled-desktop")
    octx.close()

    # Disabling yourself: refused, with the API's reason.
    arow = page.locator("tr[data-user='admin']")
    arow.get_by_role("button", name="Edit admin").click()
    apanel = page.locator(f"#edit-user-{ids['admin']}")
    apanel.get_by_label("Disabled").check()
    apanel.get_by_role("button", name="Save").click()
    expect(apanel.get_by_role("alert")).to_contain_text("you cannot disable yourself")
    expect(arow.locator("td.state")).to_have_text("enabled")
    errors.none("disable yourself", [r"status of 409"])
    apanel.get_by_role("button", name="Close").click()
    expect(apanel).to_have_count(0)

    # A viewer's password reset.
    viewer = SPEC["viewer"]
    page.locator(f"tr[data-user='{viewer}']").get_by_role("button", name=f"Edit {viewer}").click()
    vpanel = page.locator(f"#edit-user-{ids[viewer]}")
    vpanel.get_by_label("New password").fill(SPEC["viewer_new_password"])
    vpanel.get_by_role("button", name="Reset password").click()
    expect(status).to_contain_text(f"Password of {viewer} reset")
    errors.none("password reset")

    # An API token: shown once, copied, works with the API; then revoked in the page.
    nav.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    tform = page.get_by_role("form", name="Create a token")
    tform.get_by_label("Name", exact=True).fill("ci-script")
    tform.get_by_label("Expires in (days)").fill("7")
    check(not unlabelled(page), f"tokens page: controls without a label: {unlabelled(page)}")
    tform.get_by_role("button", name="Create token").click()
    secret_box = page.locator("section.secret")
    expect(secret_box).to_contain_text("it will not be shown again")
    secret = page.get_by_label("New API token")
    expect(secret).to_be_focused()
    value = secret.input_value()
    check(value.startswith("wwt_") and len(value) > 40, f"the secret: {value!r}")
    secret_box.get_by_role("button", name="Copy").click()
    tstatus = page.locator("#tokens-status")
    expect(tstatus).to_contain_text("Token copied to the clipboard")
    check(page.evaluate("navigator.clipboard.readText()") == value, "the clipboard does not hold the token")
    me = api(url, value, "/api/v1/me")
    check(me["username"] == SPEC["user"] and me["auth"] == "api_token", f"the token acts as {me}")
    listed = [t for t in api(url, admin_token, "/api/v1/tokens") if t["name"] == "ci-script"]
    check(len(listed) == 1 and value.startswith(listed[0]["prefix"]), f"listed: {listed}")
    trow = page.locator(f"tr[data-token='{listed[0]['id']}']")
    expect(trow.locator("td.user")).to_have_text(SPEC["user"])
    expect(trow.locator("td.state")).to_have_text("active")
    expect(trow.locator("code")).to_have_text(listed[0]["prefix"] + "…")
    errors.none("token created")
    shot(page, out, "tokens-secret-desktop")
    page.get_by_role("button", name="Done, hide it").click()
    expect(secret_box).to_have_count(0)
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_focused()
    check(value not in page.content(), "the secret is still in the page")
    page.reload()
    expect(trow.locator("td.state")).to_have_text("active")
    check(value not in page.content(), "the secret is shown again after a reload")

    # A token for the viewer (an admin makes it for their dashboard).
    tform.get_by_label("Name", exact=True).fill("vic-dashboard")
    tform.get_by_label("For user").select_option(viewer)
    tform.get_by_role("button", name="Create token").click()
    expect(secret_box).to_contain_text(f"it acts as {viewer}")
    page.get_by_role("button", name="Done, hide it").click()
    errors.none("viewer's token")

    # Revoke asks first (by keyboard: focus on "Keep it", Enter keeps it), then revokes.
    revoke = trow.get_by_role("button", name="Revoke token ci-script")
    revoke.focus()
    page.keyboard.press("Enter")
    keep = trow.get_by_role("button", name="Keep it")
    expect(keep).to_be_focused()
    focus_visible(page, "the confirmation's Keep it")
    expect(trow.get_by_role("group", name="Revoke token ci-script?")).to_contain_text("stop working")
    page.keyboard.press("Enter")
    expect(keep).to_have_count(0)
    expect(revoke).to_be_focused()
    focus_visible(page, "Revoke, after Keep it")
    check(call(url, value, "/api/v1/me")[0] == 200, "a kept token was revoked")
    page.keyboard.press("Enter")
    expect(keep).to_be_focused()
    shot(page, out, "tokens-confirm-desktop")
    trow.get_by_role("button", name="Revoke now").click()
    expect(tstatus).to_contain_text("Token ci-script revoked")
    expect(trow.locator("td.state")).to_have_text("revoked")
    code, answer = call(url, value, "/api/v1/me")
    check(code == 401, f"the revoked token: {code} {answer}")
    errors.none("token revoked")
    shot(page, out, "tokens-desktop")

    # 390x844: nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    for name, path, ready in [("users", "/admin/users", "table.users tbody tr"), ("tokens", "/tokens", "table.tokens tbody tr")]:
        page.goto(url + path)
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(300)
        no_horizontal_scroll(page, name)
        shot(page, out, f"{name}-phone")
    errors.none("phone layout")
    ctx.close()

    # A viewer (with the password the admin set): no Admin entry; /admin/users says why.
    vctx = browser.new_context(viewport=DESKTOP)
    vpage = vctx.new_page()
    vpage.set_default_timeout(20_000)
    verrors = Errors(vpage)
    CURRENT[:] = [vpage]
    vpage.goto(url + "/admin/users")
    sign_in(vpage, viewer, SPEC["viewer_new_password"])
    expect(vpage.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(vpage.get_by_role("alert")).to_contain_text("Not allowed: this needs the admin role (you are viewer)")
    vnav = vpage.get_by_role("navigation", name="Console")
    check(vnav.get_by_role("link", name="Admin").count() == 0, "a viewer has the Admin entry")
    check(vpage.get_by_role("form").count() == 0, "a viewer is offered a form on the users page")
    check(vpage.get_by_role("button", name="Try again").count() == 0, "a retry offered for a 403")
    expect(vpage.locator("main")).to_contain_text("Admins manage users")
    verrors.none("viewer on /admin/users", [r"status of 403"])
    shot(vpage, out, "users-viewer-desktop")
    vnav.get_by_role("link", name="API tokens").click()
    expect(vpage.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    expect(vpage.locator("main")).to_contain_text("Viewers cannot create API tokens")
    expect(vpage.locator("table.tokens tbody tr")).to_have_count(1)
    expect(vpage.locator("table.tokens tbody tr th")).to_have_text("vic-dashboard")
    check(vpage.locator("table.tokens thead th", has_text="User").count() == 0, "a viewer sees the user column")
    verrors.none("viewer's tokens")
    shot(vpage, out, "tokens-viewer-desktop")
    vctx.close()
    browser.close()
    log(f"screenshots in {out}")
    log("console admin: every check passed")


if __name__ == "__main__":
    common.run(main, __doc__)
