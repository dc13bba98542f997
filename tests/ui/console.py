#!/usr/bin/env python3
"""The web console in a real browser: Playwright driving Debian's Chromium (no browser
download) against a controller that tests/tests/console.rs started, with a probe's replayed
capture stored and an alarm event recorded.

    console.py SPEC.json

SPEC (written by the Rust test): url, url_short_ttl (a second controller of the same database
whose access tokens live 2 s), stop_pid (that controller's process, stopped at the end),
user, password (an admin), viewer, viewer_password, probe, frames (the capture's), hosts {ip: [tx_packets, tx_bytes, rx_packets, rx_bytes]} (the
capture's oracle), cidr, event_id, event_subject, hostile_ip, hostile_name, hostile_event_id,
out (a directory for screenshots).

Every step collects the page's console errors and uncaught exceptions; a step that provokes a
failure on purpose (wrong password, a refused token, a stopped controller, a missing host)
allows only the browser's own report of that failed request. Exits non-zero with the reason on
the first failed check.
"""

import gzip
import ipaddress
import json
import os
import re
import time
import urllib.request

from playwright.sync_api import expect

import common
from common import CURRENT, DESKTOP, PHONE, Errors, api, check, log, no_horizontal_scroll, shot, token

# Set by main() from the spec.
SPEC = {}


def rows(page):
    """The host table's rows: [(ip, sent, rcvd, total)] in display order."""
    return page.eval_on_selector_all(
        "table.hosts tbody tr",
        """trs => trs.map(tr => [tr.dataset.ip,
            Number(tr.querySelector('td.sent').dataset.value),
            Number(tr.querySelector('td.rcvd').dataset.value),
            Number(tr.querySelector('td.total').dataset.value)])""",
    )


def wait_table(page):
    expect(page.locator("table.hosts")).to_be_visible()
    expect(page.locator("table.hosts")).not_to_have_attribute("aria-busy", "true")


def no_horizontal_scroll(page, what):
    w = page.evaluate("document.documentElement.scrollWidth")
    check(w <= PHONE["width"], f"{what} at 390x844: scrollWidth {w} > 390")


def sign_in(page, password):
    page.get_by_label("User name").fill(SPEC["user"])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def served_sizes(url):
    """The console's JS and CSS as served, raw and gzip-compressed."""
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        html = r.read().decode()
    total_raw = total_gz = 0
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', html):
        with urllib.request.urlopen(url + asset, timeout=30) as r:
            data = r.read()
        total_raw += len(data)
        total_gz += len(gzip.compress(data, 9))
    return total_raw, total_gz


def main(spec, p):
    global SPEC
    SPEC = spec
    url = SPEC["url"]
    out = SPEC["out"]
    os.makedirs(out, exist_ok=True)
    oracle = {ip: v for ip, v in SPEC["hosts"].items()}
    admin = token(url, SPEC["user"], SPEC["password"])
    raw, gz = served_sizes(url)
    log(f"console size: JS + CSS {raw} B, {gz} B gzip-compressed ({gz / 1024:.1f} KiB)")

    browser = common.launch(p)
    # Service workers off here: this page's API answers are replaced below (page.route),
    # which a worker would bypass; the phone's context below has them on.
    ctx = browser.new_context(viewport=DESKTOP, service_workers="block")
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    errors = Errors(page)
    CURRENT[:] = [page]

    # A wrong password: the message, no session.
    page.goto(url + "/hosts?probe=" + SPEC["probe"])
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    errors.none("sign-in form")
    shot(page, out, "signin-desktop")
    sign_in(page, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    errors.none("wrong password", [r"status of 401"])

    # Signing in opens the page the link named (the deep link), not another one.
    sign_in(page, SPEC["password"])
    expect(page.get_by_role("heading", name="Hosts", level=1)).to_be_visible()
    check(page.url.endswith("/hosts?probe=" + SPEC["probe"]), f"after sign-in: {page.url}")
    wait_table(page)
    errors.none("sign-in")

    # The sites overview: both sites, their probes, a throughput sparkline, open alarms.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Sites").click()
    expect(page.get_by_role("heading", name="Sites", level=1)).to_be_visible()
    for site in ("site-a", "site-b"):
        card = page.locator(f"li.site[data-site='{site}']")
        expect(card).to_be_visible()
        expect(card.locator("li[data-probe]")).to_have_count(1)
    expect(page.locator("li.site[data-site='site-a'] svg.sparkline")).to_be_visible()
    expect(page.locator("li.site[data-site='site-a'] .alarm-count")).to_have_text("1")
    expect(page.locator("p.summary")).to_contain_text("open alarms")
    errors.none("overview")
    shot(page, out, "overview-desktop")
    # A site's own page (a deep link too).
    page.locator("li.site[data-site='site-a'] h2 a").click()
    expect(page).to_have_url(re.compile(r"/sites/site-a$"))
    expect(page.get_by_role("heading", name="Site site-a", level=1)).to_be_visible()
    expect(page.locator("li.site")).to_have_count(1)
    page.goto(url + "/sites/no-such-site")
    expect(page.get_by_role("alert")).to_contain_text("no site no-such-site")
    errors.none("site page")

    # An interface's page, from the probe's list: the API's counters, history, RRD graph.
    page.goto(url + "/")
    link = page.locator(f"li[data-probe='{SPEC['probe']}'] a[data-interface]").first
    iid = link.get_attribute("data-interface")
    link.click()
    expect(page).to_have_url(re.compile(rf"/interfaces/{iid}$"))
    i = api(url, admin, f"/api/v1/interfaces/{iid}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{i['probe']} · {i['name']}")

    def value(row):
        return page.eval_on_selector(f"table.counters tr[data-row='{row}'] td", "td => Number(td.dataset.value)")

    check(value("Packets") == SPEC["frames"], f"interface packets {value('Packets')}, the capture has {SPEC['frames']}")
    check((value("Bytes"), value("Packets"), value("Hosts")) == (i["bytes"], i["packets"], i["hosts"]),
          f"interface page {(value('Bytes'), value('Packets'), value('Hosts'))} vs API {i}")
    for k, v in i["bytes_stats"].items():
        if v:
            check(page.eval_on_selector(f"table.bytes-stats tr[data-row='{k}'] td", "td => Number(td.dataset.value)") == v,
                  f"bytesStats {k}")
    expect(page.locator(".chart canvas").first).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.rrd-graph')?.naturalWidth > 0")
    errors.none("interface page")
    shot(page, out, "interface-desktop")
    page.get_by_role("link", name="its hosts").click()
    expect(page).to_have_url(re.compile(rf"/hosts\?interface={iid}$"))
    wait_table(page)
    ifaces = page.eval_on_selector_all("table.hosts tbody tr", "trs => trs.map(tr => tr.dataset.interface)")
    check(len(ifaces) > 0 and set(ifaces) == {iid}, f"hosts of interface {iid}: {set(ifaces)}")
    errors.none("hosts of an interface")

    # The host table: every host the probe sent with the oracle's byte counts, by bytes.
    page.goto(url + f"/hosts?probe={SPEC['probe']}&limit=1000")
    wait_table(page)
    got = rows(page)
    check(len(got) == len(oracle), f"host table: {len(got)} rows, the oracle has {len(oracle)}")
    for ip, sent, rcvd, total in got:
        check(ip in oracle, f"host table: {ip} is not in the capture")
        _, txb, _, rxb = oracle[ip]
        check((sent, rcvd) == (txb, rxb), f"host table: {ip} sent/received {sent}/{rcvd}, oracle {txb}/{rxb}")
        check(total == sent + rcvd, f"host table: {ip} total {total}")
    totals = [r[3] for r in got]
    check(totals == sorted(totals, reverse=True), "host table: not sorted by bytes, descending")
    taipei = [ip for ip in oracle if ip.startswith("203.69.81.")]
    if taipei:
        expect(page.locator(f"tr[data-ip='{taipei[0]}'] td.loc")).to_contain_text("TW Taipei")
    errors.none("host table")
    shot(page, out, "hosts-desktop")

    # Sorted the other way by a click on the column header (a link: the URL keeps it).
    page.get_by_role("link", name="Total").click()
    expect(page).to_have_url(re.compile(r"order=asc"))
    wait_table(page)
    page.wait_for_function("() => { const r = document.querySelectorAll('table.hosts tbody tr'); "
                           "return r.length > 1 && Number(r[0].querySelector('td.total').dataset.value) <= "
                           "Number(r[r.length - 1].querySelector('td.total').dataset.value) }")
    asc = [r[3] for r in rows(page)]
    check(asc == sorted(asc), "host table: the header click did not sort ascending")
    errors.none("sort")

    # Filtered by a subnet typed in the form.
    net = ipaddress.ip_network(SPEC["cidr"])
    want = {ip for ip in oracle if ipaddress.ip_address(ip) in net}
    check(0 < len(want) < len(oracle), f"the test's subnet {net} should hold some hosts, not all")
    page.get_by_label("Subnet (CIDR)").fill(SPEC["cidr"])
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"cidr="))
    page.wait_for_function(f"() => document.querySelectorAll('table.hosts tbody tr').length === {len(want)}")
    shown = {r[0] for r in rows(page)}
    check(shown == want, f"subnet {net}: shown {sorted(shown ^ want)} differ")
    # A reload of that deep link keeps the session and the view.
    page.reload()
    wait_table(page)
    page.wait_for_function(f"() => document.querySelectorAll('table.hosts tbody tr').length === {len(want)}")
    check({r[0] for r in rows(page)} == want, "reload: another view")
    check(page.get_by_role("button", name="Sign out").is_visible(), "reload: signed out")
    errors.none("subnet filter and reload")

    # Packets as the unit.
    page.goto(url + f"/hosts?probe={SPEC['probe']}&limit=1000")
    wait_table(page)
    page.get_by_label("Unit").select_option("packets")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"unit=packets"))
    page.wait_for_function("() => document.querySelector('td.sent')?.textContent.includes('pkts')")
    for ip, sent, rcvd, _ in rows(page):
        txp, _, rxp, _ = oracle[ip]
        check((sent, rcvd) == (txp, rxp), f"packets: {ip} {sent}/{rcvd}, oracle {txp}/{rxp}")
    errors.none("unit packets")

    # Paged with the cursor: 7 a page, every host once, in order across pages.
    page.goto(url + f"/hosts?probe={SPEC['probe']}&limit=7")
    seen = []
    pages = 0
    while True:
        wait_table(page)
        page.wait_for_function("() => document.querySelectorAll('table.hosts tbody tr').length > 0")
        seen.extend(rows(page))
        pages += 1
        nxt = page.get_by_role("link", name="Next page")
        if nxt.count() == 0:
            break
        before = page.url
        nxt.click()
        page.wait_for_url(lambda u: u != before)
        check(pages < 100, "paging does not end")
    ips = [r[0] for r in seen]
    check(len(ips) == len(set(ips)) == len(oracle), f"paging: {len(ips)} rows, {len(set(ips))} distinct, want {len(oracle)}")
    check(pages == -(-len(oracle) // 7), f"paging: {pages} pages")
    check([r[3] for r in seen] == sorted((r[3] for r in seen), reverse=True), "paging: order broken across pages")
    errors.none("paging")

    # A host's page shows the API's figures, its history chart and its RRD graph.
    top = got[0][0]
    page.goto(url + f"/hosts?probe={SPEC['probe']}")
    wait_table(page)
    page.locator(f"tr[data-ip='{top}'] th a").click()
    expect(page).to_have_url(re.compile(r"/hosts/\d+/"))
    expect(page.get_by_role("heading", name="Counters")).to_be_visible()
    iface = page.url.rstrip("/").split("/")[-2]
    d = api(url, admin, f"/api/v1/interfaces/{iface}/hosts/{top}")

    def cells(row):
        return page.eval_on_selector_all(f"tr[data-row='{row}'] td[data-value]", "tds => tds.map(t => Number(t.dataset.value))")

    check(cells("bytes") == [d["bytes"]["sent"], d["bytes"]["rcvd"]], f"host page bytes {cells('bytes')} vs API {d['bytes']}")
    check(cells("packets") == [d["packets"]["sent"], d["packets"]["rcvd"]], "host page packets")
    check(cells("peers") == [d["peers_sent"], d["peers_rcvd"]], "host page peers")
    check(cells("tcp") == [d["tcp_sessions_active"], d["tcp_sessions_total"]], "host page TCP sessions")
    t = d["protocols"]["tcp"]
    check(cells("TCP") == [t["sent_bytes"], t["rcvd_bytes"], t["sent_packets"], t["rcvd_packets"]], "host page TCP split")
    u = d["protocols"]["udp"]
    check(cells("UDP") == [u["sent_bytes"], u["rcvd_bytes"], u["sent_packets"], u["rcvd_packets"]], "host page UDP split")
    for s in d["services"]:
        expect(page.locator(f"table.services tr[data-row='{s['service']}']")).to_be_visible()
    check(oracle[top][1] == d["bytes"]["sent"], "the API differs from the oracle")
    expect(page.locator(".chart canvas").first).to_be_visible()
    img = page.locator("img.rrd-graph")
    expect(img).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.rrd-graph')?.naturalWidth > 0")
    check(page.evaluate("document.querySelector('img.rrd-graph').src").startswith("blob:"), "the graph is not a blob URL")
    errors.none("host page")
    shot(page, out, "host-desktop")

    # A host whose name is markup: shown as text, never run or parsed.
    page.goto(url + f"/hosts?probe={SPEC['probe']}&limit=1000")
    wait_table(page)
    expect(page.locator(f"tr[data-ip='{SPEC['hostile_ip']}'] td.name")).to_have_text(SPEC["hostile_name"])
    page.locator(f"tr[data-ip='{SPEC['hostile_ip']}'] th a").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SPEC["hostile_name"])
    check(page.evaluate("String(window.__pwned)") == "undefined", "a stored name ran as script")
    check(page.locator("img[src=x]").count() == 0, "a stored name became markup")
    errors.none("hostile host name")

    # A missing host: "not found".
    page.goto(url + "/hosts/999999/10.255.255.1")
    expect(page.get_by_role("alert")).to_contain_text("Not found")
    errors.none("missing host", [r"status of 404"])

    # The controller's other refusals as the API words them (answers replaced in the
    # browser: nothing here makes the controller fail on purpose).
    for status, code, message, shown in [
        (403, "forbidden", "needs the operator role", "Not allowed: needs the operator role"),
        (500, "internal", "internal error (logged on the controller)", "The controller failed (HTTP 500)"),
        (503, "unavailable", "database unavailable", "The controller is unavailable"),
    ]:
        body = json.dumps({"error": {"code": code, "message": message}})
        def answer(route, s=status, b=body):
            route.fulfill(status=s, body=b, content_type="application/json")

        page.route("**/api/v1/sites", lambda route: answer(route))
        page.goto(url + "/")
        expect(page.get_by_role("alert")).to_contain_text(shown)
        page.unroute("**/api/v1/sites")
        errors.none(f"HTTP {status}", [rf"status of {status}"])
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("li.site").first).to_be_visible()
    errors.none("try again")

    # Alarms: the event the threshold check recorded, acknowledged by a click.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Alarms").click()
    row = page.locator(f"tr[data-event='{SPEC['event_id']}']")
    expect(row).to_contain_text(SPEC["event_subject"])
    expect(page.get_by_role("link", name="Thresholds and check")).to_have_attribute("href", "/alarms/thresholds")
    expect(page.get_by_role("link", name="configurator", exact=True)).to_have_attribute("href", "/python/rrdalarm/config.py")
    expect(page.get_by_role("link", name="report", exact=True)).to_have_attribute("href", "/python/rrdalarm/report.py")
    hostile = page.locator(f"tr[data-event='{SPEC['hostile_event_id']}']")
    expect(hostile.locator(".message-text")).to_contain_text(SPEC["hostile_name"])
    check(page.evaluate("String(window.__pwned)") == "undefined", "an event's message ran as script")
    shot(page, out, "alarms-desktop")
    row.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(row).to_contain_text("acknowledged by " + SPEC["user"])
    acked = api(url, admin, "/api/v1/alarms/events?state=acked")["items"]
    check(any(e["id"] == SPEC["event_id"] and e["acked_by"] == SPEC["user"] for e in acked), "not acknowledged in the API")
    errors.none("alarms")

    # The region map: the countries of the test's GeoIP database shaded, others not; a
    # click on a country lists and draws its cities.
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Map").click()
    expect(page.get_by_role("heading", name="Region map", level=1)).to_be_visible()
    expect(page.locator("#worldmap path").first).to_be_visible()
    geo = api(url, admin, "/api/v1/geo/countries")
    check(len(geo["countries"]) >= 2, f"the test's GeoIP database should place hosts in 2+ countries: {geo}")
    plain = page.eval_on_selector("#worldmap path[data-country='RU']", "p => getComputedStyle(p).fill")
    for c in geo["countries"]:
        code = c["code"]
        shape = page.locator(f"#worldmap a[data-country='{code}'] path")
        expect(shape).to_have_count(1)
        fill = shape.evaluate("p => getComputedStyle(p).fill")
        check(fill != plain, f"{code} ({c['hosts']} hosts) is not shaded: {fill}")
        expect(page.locator(f"#countries tr[data-country='{code}'] td.num")).to_have_text(str(c["hosts"]))
    check("shade-0" in page.get_attribute("#worldmap path[data-country='RU']", "class"), "Russia has no hosts")
    if geo.get("attribution"):
        expect(page.locator(".attribution")).to_contain_text(geo["attribution"]["text"])
    errors.none("region map")
    shot(page, out, "map-desktop")
    busiest = max(geo["countries"], key=lambda c: c["hosts"])["code"]
    page.locator(f"#worldmap a[data-country='{busiest}']").click()
    expect(page).to_have_url(re.compile(rf"/map\?country={busiest}$"))
    cities = api(url, admin, f"/api/v1/geo/cities?country={busiest}")
    want_rows = len(cities["cities"]) + (1 if cities["hosts_unknown"] > 0 else 0)
    expect(page.locator("#cities tbody tr")).to_have_count(want_rows)
    located = [x for x in cities["cities"] if x["latitude"] is not None]
    expect(page.locator("#cityplot circle")).to_have_count(len(located))
    for x in cities["cities"]:
        expect(page.locator(f"#cities tr[data-city='{x['name']}'] td.num")).to_have_text(str(x["hosts"]))
    errors.none("a country's cities")
    shot(page, out, "map-country-desktop")

    # A threshold made in the editor: a wrong value is refused with its row named and kept,
    # then saved; "Check now" fires it; its event is listed and acknowledged.
    page.goto(url + "/alarms/thresholds")
    expect(page.locator("table.thresholds tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Add a threshold").click()
    expect(page.locator("table.thresholds tbody tr")).to_have_count(2)
    page.get_by_label("RRD path of row 2").fill("*/interfaces/alarmtest2/ethernetBytes.rrd")
    check(page.eval_on_selector_all("#rrd-paths option", "os => os.map(o => o.value)").count(SPEC["alarm_file2"]) == 1,
          "the archive's files are not offered for completion")
    check("savelog" in page.eval_on_selector_all("#alarm-actions option", "os => os.map(o => o.value)"),
          "the actions are not offered for completion")
    page.get_by_label("Value of row 2").fill("lots")
    page.get_by_label("Start of row 2").fill("now-30min")
    page.get_by_label("Action of row 2", exact=True).fill("savelog")
    page.get_by_label("Action parameter of row 2").fill("console2.log")
    page.get_by_role("button", name="Save thresholds").click()
    expect(page.get_by_role("alert")).to_contain_text("row 2")
    expect(page.locator("tr[data-row='2']")).to_have_class("refused")
    expect(page.get_by_label("Value of row 2")).to_have_value("lots")
    check(len(api(url, admin, "/api/v1/alarms/thresholds")) == 1, "a refused list was saved")
    errors.none("refused thresholds", [r"status of 400"])
    page.get_by_label("Value of row 2").fill("200")
    page.get_by_role("button", name="Save thresholds").click()
    expect(page.locator("p.message.notice")).to_contain_text("Saved 2 thresholds")
    saved = api(url, admin, "/api/v1/alarms/thresholds")
    check(len(saved) == 2 and saved[1]["rrd_path"] == "*/interfaces/alarmtest2/ethernetBytes.rrd" and saved[1]["value"] == "200",
          f"saved thresholds: {saved}")
    shot(page, out, "thresholds-desktop")
    page.get_by_role("button", name="Check now").click()
    fired = page.locator(f"table.check tr[data-outcome='fired']:has-text('{SPEC['alarm_file2']}')")
    expect(fired).to_contain_text("ALARM FIRED")
    expect(page.locator("section.report p.summary")).to_contain_text("1 alarm fired")
    errors.none("check now")
    shot(page, out, "check-desktop")
    page.locator("section.report").get_by_role("link", name="the events").click()
    new_event = page.locator("tr[data-event]").filter(has_text=SPEC["alarm_file2"])
    expect(new_event).to_have_count(1)
    new_event.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(new_event).to_contain_text("acknowledged by " + SPEC["user"])
    acked = api(url, admin, "/api/v1/alarms/events?state=acked")["items"]
    check(any(e["subject"] == SPEC["alarm_file2"] for e in acked), "the editor's alarm was not acknowledged in the API")
    errors.none("the editor's alarm")

    # The dark theme by the toggle (kept across a reload).
    page.goto(url + "/")
    page.get_by_role("button", name=re.compile("^Theme")).click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("li.site").first).to_be_visible()
    shot(page, out, "overview-dark-desktop")
    page.goto(url + f"/hosts/{iface}/{top}")
    expect(page.locator(".chart canvas").first).to_be_visible()
    shot(page, out, "host-dark-desktop")
    page.get_by_role("button", name=re.compile("^Theme")).click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name=re.compile("^Theme")).click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
    errors.none("theme")

    # Keyboard: the skip link, then the navigation, reachable with Tab; focus is visible.
    page.goto(url + "/")
    expect(page.locator("li.site").first).to_be_visible()
    page.keyboard.press("Tab")
    check(page.evaluate("document.activeElement.textContent") == "Skip to content", "first Tab: not the skip link")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    check(outline != "none", "no visible focus")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    check(page.evaluate("document.activeElement.textContent") == "Hosts", "Tab order: Hosts is not the third link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hosts", level=1)).to_be_visible()
    errors.none("keyboard")

    # At 390x844 nothing scrolls sideways.
    page.set_viewport_size(PHONE)
    for name, path, ready in [
        ("overview", "/", "li.site"),
        ("hosts", f"/hosts?probe={SPEC['probe']}", "table.hosts tbody tr"),
        ("host", f"/hosts/{iface}/{top}", ".chart canvas"),
        ("interface", f"/interfaces/{iid}", ".chart canvas"),
        ("alarms", "/alarms?state=all", "table.events tbody tr"),
    ]:
        page.goto(url + path)
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(300)
        no_horizontal_scroll(page, name)
        shot(page, out, f"{name}-phone")
    errors.none("phone layout")

    # A viewer sees the events, without the button to acknowledge them.
    viewer = browser.new_context(viewport=DESKTOP, service_workers="block")
    vpage = viewer.new_page()
    verrors = Errors(vpage)
    vpage.goto(url + "/alarms?state=all")
    vpage.get_by_label("User name").fill(SPEC["viewer"])
    vpage.get_by_label("Password").fill(SPEC["viewer_password"])
    vpage.get_by_role("button", name="Sign in").click()
    expect(vpage.locator(f"tr[data-event='{SPEC['hostile_event_id']}']")).to_contain_text("open")
    check(vpage.get_by_role("button", name=re.compile("^Acknowledge")).count() == 0, "a viewer may acknowledge")
    expect(vpage.locator(".who")).to_contain_text("(viewer)")
    verrors.none("viewer")
    viewer.close()

    # The phone client at 390x844: the site switcher, each site's status, top talkers now
    # (asked live of the looping probe), alarms with acknowledge, host search and a card;
    # installable (manifest, icons, a service worker); nothing scrolls sideways.
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    ppage = phone.new_page()
    ppage.set_default_timeout(20_000)
    perrors = Errors(ppage)
    CURRENT[:] = [ppage]
    ppage.goto(url + "/m")
    sign_in(ppage, SPEC["password"])
    switcher = ppage.get_by_label("Site", exact=True)
    expect(switcher).to_be_visible()
    for site in ("site-a", "site-b", SPEC["live_site"]):
        expect(ppage.locator(f"li.site[data-site='{site}']")).to_be_visible()
    expect(ppage.locator(f"li.site[data-site='{SPEC['live_site']}'] .status")).to_have_text("online")
    perrors.none("phone home")
    no_horizontal_scroll(ppage, "phone home")
    shot(ppage, out, "m-home-phone")
    switcher.select_option(SPEC["live_site"])
    expect(ppage).to_have_url(re.compile(rf"/m\?site={SPEC['live_site']}$"))
    expect(ppage.locator("li.site")).to_have_count(1)
    talkers = ppage.locator(f"ol.talker-list[data-probe='{SPEC['live_probe']}'] li[data-ip]")
    expect(talkers.first).to_be_visible(timeout=30_000)
    live_ips = talkers.evaluate_all("ls => ls.map(l => l.dataset.ip)")
    check(set(live_ips) <= set(SPEC["live_hosts"]) and live_ips, f"live top talkers {live_ips} vs the capture's {SPEC['live_hosts']}")
    expect(ppage.get_by_role("heading", name="Top talkers now")).to_be_visible()
    check(ppage.get_by_role("alert").count() == 0, f"an error on the phone's home: {ppage.inner_text('main')}")
    ppage.wait_for_timeout(300)
    no_horizontal_scroll(ppage, "phone top talkers")
    perrors.none("phone top talkers")
    shot(ppage, out, "m-talkers-phone")
    # The choice is remembered: a reload of /m keeps site-c.
    ppage.goto(url + "/m")
    expect(ppage.get_by_label("Site", exact=True)).to_have_value(SPEC["live_site"])
    ppage.get_by_label("Site", exact=True).select_option("")
    expect(ppage.locator("li.site")).to_have_count(3)
    # Alarms: the stored markup event is open; acknowledged from the phone.
    ppage.get_by_role("navigation", name="Phone").get_by_role("link", name="Alarms").click()
    card = ppage.locator(f"li.event[data-event='{SPEC['hostile_event_id']}']")
    expect(card.locator(".message-text")).to_have_text(SPEC["hostile_name"])
    check(ppage.evaluate("String(window.__pwned)") == "undefined", "an event ran as script on the phone")
    no_horizontal_scroll(ppage, "phone alarms")
    shot(ppage, out, "m-alarms-phone")
    card.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(card).to_contain_text("acknowledged by " + SPEC["user"])
    perrors.none("phone alarms")
    # Host search and the host card with the API's figures.
    ppage.get_by_role("navigation", name="Phone").get_by_role("link", name="Search").click()
    ppage.get_by_label("Address, MAC or name").fill(top)
    ppage.get_by_role("button", name="Search").click()
    hit = ppage.locator(f"ul.hit-list a[data-ip='{top}']")
    expect(hit).to_be_visible()
    no_horizontal_scroll(ppage, "phone search")
    hit.click()
    expect(ppage).to_have_url(re.compile(r"/m/hosts/\d+/"))
    card = ppage.locator("article.host-card")
    expect(card).to_have_attribute("data-ip", top)
    expect(card.locator("dd[data-field='sent_bytes']")).to_contain_text(f"({d['packets']['sent']:,} pkts)")
    expect(card.locator("dd[data-field='rcvd_bytes']")).to_contain_text(f"({d['packets']['rcvd']:,} pkts)")
    no_horizontal_scroll(ppage, "phone host card")
    perrors.none("phone host card")
    shot(ppage, out, "m-host-phone")
    # Installable: the manifest, its icons, a service worker in control of the app.
    manifest = ppage.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
    check(manifest["start_url"] == "/m" and manifest["display"] == "standalone", f"manifest {manifest}")
    sizes = set()
    for icon in manifest["icons"]:
        kind = ppage.evaluate(f"fetch('{icon['src']}').then(r => r.ok ? r.headers.get('content-type') : 'HTTP ' + r.status)")
        check(kind == icon["type"], f"icon {icon['src']}: {kind}")
        sizes.add(icon["sizes"])
    check({"192x192", "512x512"} <= sizes, f"icon sizes {sizes}")
    scope = ppage.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    check(scope == url + "/", f"service worker scope {scope}")
    perrors.none("installable")
    phone.close()
    CURRENT[:] = [page]

    # Sign-out ends the session: a reload shows the form.
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("p.notice")).to_contain_text("signed out")
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    check(page.evaluate("localStorage.getItem('wirewatch.refresh')") is None, "the refresh token stayed")
    page.set_viewport_size(PHONE)
    no_horizontal_scroll(page, "sign-in")
    shot(page, out, "signin-phone")
    page.set_viewport_size(DESKTOP)
    errors.none("sign-out")
    ctx.close()

    # A 2-second access token: expired between pages, refreshed silently.
    short = SPEC["url_short_ttl"]
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    errors = Errors(page)
    CURRENT[:] = [page]
    refreshes = []
    page.on("request", lambda r: refreshes.append(r.url) if r.url.endswith("/api/v1/auth/refresh") else None)
    page.goto(short + "/")
    sign_in(page, SPEC["password"])
    expect(page.locator("li.site").first).to_be_visible()
    page.wait_for_timeout(3_000)
    before = len(refreshes)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Hosts").click()
    wait_table(page)
    page.wait_for_function("() => document.querySelectorAll('table.hosts tbody tr').length > 0")
    check(page.get_by_role("alert").count() == 0, "an error shown after the token expired")
    check(len(refreshes) > before, "no refresh after the access token expired")
    errors.none("silent refresh", [r"status of 401"])
    # A reload (the access token is gone with the page): the stored refresh token resumes.
    page.reload()
    wait_table(page)
    check(page.get_by_role("alert").count() == 0, "an error after reload")
    errors.none("reload with the refresh token", [r"status of 401"])

    # A refresh token the controller refuses: "your session expired".
    page.evaluate("localStorage.setItem('wirewatch.refresh', 'wwr_not-a-real-token')")
    page.reload()
    expect(page.locator("p.notice")).to_contain_text("Your session expired, sign in again")
    errors.none("expired session", [r"status of 401"])

    # A stopped controller: "cannot reach the controller".
    sign_in(page, SPEC["password"])
    expect(page.get_by_role("heading", name="Hosts", level=1)).to_be_visible()
    wait_table(page)
    # (The phone client's offline shell is installed first: its worker keeps the app.)
    page.goto(short + "/m")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.get_by_label("Site", exact=True)).to_be_visible()
    page.goto(short + "/hosts")
    wait_table(page)
    os.kill(int(SPEC["stop_pid"]), 15)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(short + "/healthz", timeout=2)
            time.sleep(0.2)
        except Exception:
            break
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Alarms").click()
    expect(page.get_by_role("alert")).to_contain_text("Cannot reach the controller")
    shot(page, out, "unreachable-desktop")
    # (409: /m asked this second controller for a probe's live table; no probe is connected
    # to it, which the page says: "probe … is not connected to this controller".)
    errors.none("stopped controller", [r"ERR_CONNECTION_REFUSED", r"Failed to fetch", r"ERR_CONNECTION_RESET",
                                       r"status of 409"])
    # The phone client opened with the controller down: the shell from the worker's cache
    # says it cannot reach the controller; offline, it says so.
    page.set_viewport_size(PHONE)
    page.goto(short + "/m")
    expect(page.get_by_role("alert")).to_contain_text("Cannot reach the controller")
    no_horizontal_scroll(page, "unreachable phone")
    shot(page, out, "m-unreachable-phone")
    ctx.set_offline(True)
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("You are offline")
    shot(page, out, "m-offline-phone")
    errors.none("offline shell", [r"ERR_CONNECTION_REFUSED", r"Failed to fetch", r"ERR_CONNECTION_RESET",
                                  r"ERR_INTERNET_DISCONNECTED", r"ERR_FAILED"])
    ctx.close()
    browser.close()
    log(f"screenshots in {out}")
    log("console: every check passed")


if __name__ == "__main__":
    common.run(main, __doc__)
