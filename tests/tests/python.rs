//! The embedded Python engine against a real controller, PostgreSQL and probe data: the seed's
//! example scripts unchanged, the bundled pages (region map, iPhone JSON), and isolation (an
//! exception, a runaway loop, sys.exit, concurrent scripts, a script edited while serving,
//! preferences that persist).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use wirewatch_e2e::*;

const CAPTURE: &str = "1kxun.pcap";

/// [`two_sites`] (`pa` replayed CAPTURE, `pb` icmp.pcap) serving scripts from `scripts`
/// beside the bundled ones, with a 2 s script time limit.
struct Fx {
    s: TwoSites,
    scripts: tempfile::TempDir,
}

impl std::ops::Deref for Fx {
    type Target = TwoSites;
    fn deref(&self) -> &TwoSites {
        &self.s
    }
}

impl std::ops::DerefMut for Fx {
    fn deref_mut(&mut self) -> &mut TwoSites {
        &mut self.s
    }
}

impl Fx {
    fn page(&self, path: &str, token: &str) -> Resp {
        http(self.c.http, "GET", path, Some(token), None)
    }
    fn ok(&self, path: &str, token: &str) -> String {
        let r = self.page(path, token);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }
    fn json(&self, path: &str) -> Value {
        serde_json::from_str(&self.ok(path, &self.admin)).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
    }
    /// Writes a script into the extra scripts directory.
    fn script(&self, rel: &str, source: &str) {
        let p = self.scripts.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, source).expect("write script");
    }
    fn user(&self, name: &str, role: &str, sites: Option<&str>) -> String {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(s) = sites {
            args.extend(["--sites", s]);
        }
        self.c.cli_stdin(&args, "pass-word-123\n").expect("user add");
        login(self.c.http, name, "pass-word-123")
    }
}

fn fixture() -> Fx {
    let scripts = scratch();
    let dir = scripts.path().display().to_string();
    let s = two_sites(
        "py",
        CAPTURE,
        "icmp.pcap",
        &[
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", dir.as_str()),
            ("WIREWATCH_PYTHON_TIMEOUT_SECS", "2"),
            ("WIREWATCH_PYTHON_GRACE_SECS", "1"),
        ],
    );
    Fx { s, scripts }
}

/// The cells of each `<tr>` that has `<td>` cells.
fn table_rows(html: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for tr in html.split("<tr>").skip(1) {
        let tr = tr.split("</tr>").next().unwrap_or("");
        let mut cells = Vec::new();
        let mut rest = tr;
        while let Some(i) = rest.find("<td") {
            let after = &rest[i..];
            let Some(gt) = after.find('>') else { break };
            let Some(end) = after.find("</td>") else { break };
            cells.push(after[gt + 1..end].to_string());
            rest = &after[end + 5..];
        }
        if !cells.is_empty() {
            rows.push(cells);
        }
    }
    rows
}

/// Every host of the API's list for one probe: ip → summary.
fn api_hosts(fx: &Fx, probe: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let r = http(
            fx.c.http,
            "GET",
            &format!("/api/v1/hosts?probe={probe}&sort=ip&order=asc&limit=500{cursor}"),
            Some(&fx.admin),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        for h in v["items"].as_array().into_iter().flatten() {
            out.insert(h["ip"].as_str().expect("ip").to_string(), h.clone());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Interface (device) index of probe `pa`: devices are ordered by site, probe, interface.
const DEV_A: usize = 0;

#[test]
fn seed_scripts_run_unchanged_against_probe_data() {
    let fx = fixture();
    let stored = api_hosts(&fx, "pa");
    let oracle = oracle_hosts(CAPTURE);
    assert_eq!(stored.keys().collect::<BTreeSet<_>>(), oracle.keys().collect::<BTreeSet<_>>());

    // The seed's host table (ntop.getNextHost(0) loop over interface 0 = pa's).
    let page = fx.ok("/python/hosts.py", &fx.admin);
    assert!(page.contains("<title>Welcome to ntop+Python [1kxun.pcap,icmp.pcap]</title>"), "{page}");
    let rows: Vec<Vec<String>> = table_rows(&page).into_iter().filter(|r| r.len() == 7).collect();
    assert_eq!(rows.len(), stored.len(), "one row per stored host");
    let iface = stored.values().next().expect("a host")["interface_id"].as_i64().expect("iface");
    for r in &rows {
        let (mac, ip, name, sessions, peers, fingerprint, serial) = (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]);
        let h = stored.get(ip).unwrap_or_else(|| panic!("{ip} is not a stored host"));
        assert_eq!(mac.as_str(), h["mac"].as_str().unwrap_or(""), "{ip} MAC");
        assert_eq!(name.as_str(), h["name"].as_str().unwrap_or(ip), "{ip} name");
        let d = http(fx.c.http, "GET", &format!("/api/v1/interfaces/{iface}/hosts/{ip}"), Some(&fx.admin), None).json();
        assert_eq!(sessions, &d["tcp_sessions_active"].to_string(), "{ip} sessions");
        assert_eq!(peers, &d["peers_sent"].to_string(), "{ip} contacted peers");
        assert_eq!(fingerprint, "");
        assert!(serial.ends_with(&format!("-{ip}")), "{ip} serial {serial}");
    }
    // Rows come in address order, each host once.
    assert_eq!(rows.iter().map(|r| r[1].clone()).collect::<BTreeSet<_>>().len(), rows.len());

    // Hello world: the devices preference in the title.
    let hello = fx.ok("/python/hello_world.py", &fx.admin);
    assert!(hello.contains("<h1>Welcome to ntop+Python [1kxun.pcap,icmp.pcap]</h1>"), "{hello}");
    assert!(hello.contains("Hello World"));

    // version / os / uptime.
    let info = fx.json("/python/json/info.py");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["os"].as_str().expect("os"), format!("{} {}", std::env::consts::OS, std::env::consts::ARCH));
    let up = info["uptime"].as_u64().expect("uptime is a number");
    assert!(up < 600, "uptime {up}");

    // Interface names.
    assert_eq!(fx.json("/python/json/interfaces.py"), serde_json::json!(["1kxun.pcap", "icmp.pcap"]));

    // The host module's throughput dicts: two per host, with the three keys.
    let thpt = fx.ok("/python/thpt.py", &fx.admin);
    assert_eq!(thpt.matches("{'actual': ").count(), 2 * stored.len(), "{thpt}");
    assert_eq!(thpt.matches("'average': ").count(), 2 * stored.len());

    // findHostByNumIP and the counters, against the oracle.
    let (ip, want) = oracle.iter().max_by_key(|(_, v)| v[1]).expect("busiest");
    fx.script(
        "find.py",
        &format!(
            "import ntop, host\nassert ntop.findHostByNumIP('{ip}', 0, {DEV_A}) == 1\n\
             print(host.pktSent(), host.bytesSent(), host.pktRcvd(), host.bytesRcvd())\n\
             print(ntop.findHostByNumIP('192.0.2.250', 0, {DEV_A}))\n"
        ),
    );
    let out = fx.ok("/python/find.py", &fx.admin);
    assert_eq!(out, format!("{} {} {} {}\n0\n", want[0], want[1], want[2], want[3]));

    // The interface module against the oracle's frame count.
    fx.script(
        "iface.py",
        "import interface\nprint(interface.numInterfaces(), interface.pktsStats(0)['total'], interface.numHosts(0), interface.uniqueName(1))\n",
    );
    let out = fx.ok("/python/iface.py", &fx.admin);
    assert_eq!(out, format!("2 {} {} site-b/pb/icmp.pcap\n", oracle_frames(CAPTURE), stored.len()));

    // The Pythonic module: filters and sorting agree with the API.
    fx.script(
        "pythonic.py",
        "import wirewatch\n\
         hs = list(wirewatch.hosts(probe='pa', sort='sent_bytes'))\n\
         print(len(hs), hs[0].ip, hs[0].bytes_sent)\n\
         print(len(list(wirewatch.hosts(probe='pa', cidr='192.168.0.0/16'))))\n\
         print(sorted(s.name for s in wirewatch.sites()))\n\
         h = wirewatch.host(hs[0].ip)\n\
         print(h.bytes_sent == hs[0].bytes_sent, ','.join(sorted(h.detail()['services'])))\n",
    );
    let out = fx.ok("/python/pythonic.py", &fx.admin);
    let top = stored.values().max_by_key(|h| h["bytes"]["sent"].as_i64()).expect("top");
    let detail = http(
        fx.c.http,
        "GET",
        &format!("/api/v1/interfaces/{iface}/hosts/{}", top["ip"].as_str().expect("ip")),
        Some(&fx.admin),
        None,
    )
    .json();
    let mut names: Vec<&str> =
        detail["services"].as_array().expect("services").iter().filter_map(|s| s["service"].as_str()).collect();
    names.sort();
    let services = names.join(",");
    assert!(!services.is_empty());
    let private = stored.keys().filter(|ip| ip.starts_with("192.168.")).count();
    assert_eq!(
        out,
        format!(
            "{} {} {}\n{private}\n['site-a', 'site-b']\nTrue {services}\n",
            stored.len(),
            top["ip"].as_str().expect("ip"),
            top["bytes"]["sent"]
        )
    );

    // A viewer runs read-only pages; a site-scoped user sees only their site's interfaces.
    let viewer = fx.user("vera", "viewer", None);
    assert_eq!(fx.page("/python/json/interfaces.py", &viewer).status, 200);
    let scoped = fx.user("bob", "operator", Some("site-b"));
    let r = fx.page("/python/json/interfaces.py", &scoped);
    assert_eq!(serde_json::from_str::<Value>(&r.body).expect("json"), serde_json::json!(["icmp.pcap"]));
    // Without a token: 401; a browser (Accept: text/html) is sent to the sign-in form, which
    // sets an HttpOnly session cookie that pages (and only pages) accept.
    assert_eq!(http(fx.c.http, "GET", "/python/hello_world.py", None, None).status, 401);
    let html = [("Accept", "text/html,application/xhtml+xml")];
    let r = http_headers(fx.c.http, "GET", "/python/hello_world.py?x=1", &html, None);
    assert_eq!((r.status, r.header("location")), (303, Some("/login?next=/python/hello_world.py%3Fx%3D1")));
    let form = format!("username=admin&password={ADMIN_PASSWORD}&next=%2Fpython%2Fhello_world.py");
    let r =
        http_headers(fx.c.http, "POST", "/login", &[], Some(("application/x-www-form-urlencoded", form.as_bytes())));
    assert_eq!((r.status, r.header("location")), (303, Some("/python/hello_world.py")), "{}", r.body);
    let cookie = r.header("set-cookie").expect("session cookie").to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().expect("name=value").to_string();
    let r = http_headers(fx.c.http, "GET", "/python/hello_world.py", &[("Cookie", session.as_str())], None);
    assert!(r.status == 200 && r.body.contains("Hello World"), "{} {}", r.status, r.body);
    assert_eq!(http_headers(fx.c.http, "GET", "/api/v1/sites", &[("Cookie", session.as_str())], None).status, 401);
    let bad = "username=admin&password=wrong&next=https%3A%2F%2Fevil.example%2F";
    let r = http_headers(fx.c.http, "POST", "/login", &[], Some(("application/x-www-form-urlencoded", bad.as_bytes())));
    assert_eq!(r.status, 401);
    assert!(
        r.body.contains("invalid username or password") && r.body.contains("value=\"/python/hosts.py\""),
        "{}",
        r.body
    );
    let r = http_headers(fx.c.http, "GET", "/logout", &[("Cookie", session.as_str())], None);
    assert_eq!(r.status, 303);
    let r = http_headers(fx.c.http, "GET", "/python/hello_world.py", &[("Cookie", session.as_str())], None);
    assert_eq!(r.status, 401, "the signed-out session is revoked");
    // Unknown scripts and paths out of the roots.
    assert_eq!(fx.page("/python/nope.py", &fx.admin).status, 404);
    assert_eq!(fx.page("/python/../controller.py", &fx.admin).status, 400);
    assert_eq!(fx.page("/python/json/%2e%2e/%2e%2e/x.py", &fx.admin).status, 400);
}

#[test]
fn region_map_and_iphone_pages_match_the_api() {
    let fx = fixture();
    // Country table and summary equal the API's GeoIP counts (same mmdb).
    let geo = fx.json_api("/api/v1/geo/countries");
    let page = fx.ok("/python/region_map.py", &fx.admin);
    let countries: Vec<Vec<String>> =
        table_rows(page.split("<table id=\"countries\">").nth(1).expect("countries table"))
            .into_iter()
            .take_while(|r| r.len() == 3)
            .collect();
    let want: Vec<(String, i64)> = geo["countries"]
        .as_array()
        .expect("countries")
        .iter()
        .map(|c| (c["code"].as_str().expect("code").to_string(), c["hosts"].as_i64().expect("hosts")))
        .collect();
    assert!(!want.is_empty());
    let got: Vec<(String, i64)> = countries.iter().map(|r| (r[2].clone(), r[1].parse().expect("count"))).collect();
    assert_eq!(got, want, "{page}");
    let summary = table_rows(page.split("<table id=\"summary\">").nth(1).expect("summary"));
    assert_eq!(summary[0], vec!["Hosts considered for analysis".to_string(), geo["hosts_considered"].to_string()]);
    assert_eq!(summary[1], vec!["Hosts located in unknown countries".to_string(), geo["hosts_unknown"].to_string()]);
    assert!(page.contains("<svg id=\"worldmap\""), "the world map is drawn from pygal_maps_world");
    // Cities of one country.
    let code = &want[0].0;
    let cities = fx.json_api(&format!("/api/v1/geo/cities?country={code}"));
    let page = fx.ok(&format!("/python/region_map.py?country={code}"), &fx.admin);
    let rows = table_rows(page.split("<table id=\"cities\">").nth(1).expect("cities table"));
    for c in cities["cities"].as_array().expect("cities") {
        let name = c["name"].as_str().unwrap_or("(unknown city)");
        assert!(
            rows.iter().any(|r| r[0] == name && r[1].parse::<i64>().ok() == c["hosts"].as_i64()),
            "{name} {} in {rows:?}",
            c["hosts"]
        );
    }

    // iPhone family.
    assert_eq!(fx.json("/python/json/iphone/clientcheck.py?type=iphone&version=1.2")["allowed"], 1);
    assert_eq!(fx.json("/python/json/iphone/clientcheck.py?type=iphone&version=0.9")["allowed"], 0);
    assert_eq!(fx.json("/python/json/iphone/clientcheck.py?type=android&version=2.0")["allowed"], 0);
    assert_eq!(fx.json("/python/json/iphone/iflist.py"), serde_json::json!(["1kxun.pcap", "icmp.pcap"]));
    let d = fx.json("/python/json/iphone/ifdata.py?if=0&topic=interface");
    assert_eq!(d[0]["metadata"]["type"], "groupedtable");
    assert_eq!(d[0]["data"]["total"].as_i64(), Some(oracle_frames(CAPTURE)));
    let p = fx.json("/python/json/iphone/ifdata.py?if=0&topic=protocols");
    assert_eq!(p[0]["metadata"]["type"], "piechart");
    let top = fx.json("/python/json/iphone/iftophosts.py?if=0&max=3&direction=0");
    let traffic =
        top.as_array().expect("tables").iter().find(|t| t["metadata"]["title"] == "Traffic").expect("Traffic");
    let api = fx.json_api("/api/v1/hosts?probe=pa&sort=sent_bytes&limit=3");
    let want: Vec<(Value, Value)> =
        api["items"].as_array().expect("items").iter().map(|h| (h["ip"].clone(), h["bytes"]["sent"].clone())).collect();
    let got: Vec<(Value, Value)> =
        traffic["data"].as_array().expect("rows").iter().map(|h| (h["ip"].clone(), h["value"].clone())).collect();
    assert_eq!(got, want);
    let bad = fx.page("/python/json/iphone/ifdata.py?if=9", &fx.admin);
    assert_eq!(bad.status, 500, "{}", bad.body);
    assert!(bad.body.contains("IndexError: no interface 9"), "{}", bad.body);
}

impl Fx {
    fn json_api(&self, path: &str) -> Value {
        let r = http(self.c.http, "GET", path, Some(&self.admin), None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    }
}

#[test]
fn scripts_are_isolated_from_each_other_and_the_controller() {
    let mut fx = fixture();
    let viewer = fx.user("vera", "viewer", None);
    let operator = fx.user("otto", "operator", None);

    // An exception: 500; admins see the traceback, others an id to quote.
    fx.script("raise.py", "print('before')\nx = 1\ny = x / 0\n");
    let r = fx.page("/python/raise.py", &fx.admin);
    assert_eq!(r.status, 500);
    assert!(r.body.contains("ZeroDivisionError: division by zero"), "{}", r.body);
    assert!(r.body.contains("raise.py&quot;, line 3") || r.body.contains("raise.py\", line 3"), "{}", r.body);
    let r = fx.page("/python/raise.py", &viewer);
    assert_eq!(r.status, 500);
    assert!(!r.body.contains("ZeroDivisionError") && r.body.contains("error id <code>py-"), "{}", r.body);

    // sys.exit() ends the script (output so far is the page); the controller stays up.
    fx.script("exit0.py", "import sys\nprint('partial')\nsys.exit()\nprint('never')\n");
    assert_eq!(fx.ok("/python/exit0.py", &fx.admin), "partial\n");
    fx.script("exit3.py", "import sys\nsys.exit(3)\n");
    let r = fx.page("/python/exit3.py", &fx.admin);
    assert_eq!(r.status, 500);
    assert!(r.body.contains("sys.exit(3)"), "{}", r.body);
    assert_eq!(http(fx.c.http, "GET", "/healthz", None, None).status, 200);

    // A runaway loop (even one that catches Exception) is stopped at the 2 s limit; pages are
    // served while it spins, and right after.
    fx.script("loop.py", "while True:\n    try:\n        pass\n    except Exception:\n        pass\n");
    let (addr, admin) = (fx.c.http, fx.admin.clone());
    let t0 = Instant::now();
    let spin = std::thread::spawn(move || (http(addr, "GET", "/python/loop.py", Some(&admin), None), t0.elapsed()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fx.page("/python/json/info.py", &fx.admin).status, 200, "served while a script spins");
    let (r, took) = spin.join().expect("loop request");
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(r.body.contains("ScriptTimeout"), "{}", r.body);
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "stopped after {took:?}");
    let t1 = Instant::now();
    assert_eq!(fx.page("/python/json/info.py", &fx.admin).status, 200);
    assert!(t1.elapsed() < Duration::from_secs(1), "next request took {:?}", t1.elapsed());

    // Two slow scripts at once: both finish, each with its own output, cursor and parameters.
    fx.script(
        "slow.py",
        "import time, ntop, host, os\n\
         n = 0\n\
         ok = ntop.getFirstHost(0)\n\
         while ok:\n    n += 1\n    time.sleep(0.01)\n    print(params['tag'], host.ipAddress())\n    ok = ntop.getNextHost(0)\n\
         print(params['tag'], 'hosts', n, os.environ['QUERY_STRING'])\n",
    );
    let hosts = oracle_hosts(CAPTURE).len();
    let (addr, admin) = (fx.c.http, fx.admin.clone());
    let t0 = Instant::now();
    let runs: Vec<_> = ["one", "two"]
        .into_iter()
        .map(|tag| {
            let admin = admin.clone();
            std::thread::spawn(move || http(addr, "GET", &format!("/python/slow.py?tag={tag}"), Some(&admin), None))
        })
        .collect();
    let outs: Vec<Resp> = runs.into_iter().map(|t| t.join().expect("slow")).collect();
    let both = t0.elapsed();
    for (r, tag) in outs.iter().zip(["one", "two"]) {
        assert_eq!(r.status, 200, "{}", r.body);
        let lines: Vec<&str> = r.body.lines().collect();
        assert_eq!(lines.len(), hosts + 1, "{tag}: {}", r.body);
        assert!(lines.iter().all(|l| l.starts_with(&format!("{tag} "))), "{tag}: output mixed: {}", r.body);
        assert_eq!(lines[hosts], format!("{tag} hosts {hosts} tag={tag}"));
    }
    let single = Duration::from_millis(10 * hosts as u64);
    assert!(both < single * 2, "two {single:?} scripts took {both:?}: not concurrent");

    // A script edited while the controller runs is served in its new version.
    fx.script("edit.py", "print('version 1')\n");
    assert_eq!(fx.ok("/python/edit.py", &fx.admin), "version 1\n");
    fx.script("edit.py", "print('version two, edited')\n");
    assert_eq!(fx.ok("/python/edit.py", &fx.admin), "version two, edited\n");

    // POST form fields reach cgi.FieldStorage and the plain dict.
    fx.script(
        "form.py",
        "import cgi, os\nform = cgi.FieldStorage()\nprint(os.environ['REQUEST_METHOD'], form.getvalue('a'), form.getvalue('b'), params['a'], params.get('q'))\n",
    );
    let r = http_raw(
        fx.c.http,
        "POST",
        "/python/form.py?q=1",
        Some(&fx.admin),
        Some(("application/x-www-form-urlencoded", b"a=x+y&b=%26")),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "POST x y & x y 1\n"));

    // setPreference changes the engine: the next script sees it, a viewer may not set it,
    // and it survives a restart.
    fx.script("setpref.py", "import ntop\nntop.setPreference('alarm.threshold', params['v'])\nprint('set')\n");
    fx.script(
        "getpref.py",
        "import ntop\nprint(repr(ntop.getPreference('alarm.threshold')), repr(ntop.getPreference('unset.key')))\n",
    );
    assert_eq!(fx.ok("/python/getpref.py", &fx.admin), "'' ''\n");
    assert_eq!(fx.ok("/python/setpref.py?v=42", &operator), "set\n");
    assert_eq!(fx.ok("/python/getpref.py", &viewer), "'42' ''\n");
    let r = fx.page("/python/setpref.py?v=7", &viewer);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("setPreference needs the operator role"), "{}", r.body);
    // (Last before the restart: the written-off thread spins until the process ends.)
    // A loop that swallows everything (bare except) outlives its grace: its worker is written
    // off, the request gets 504, and the engine still serves.
    fx.script(
        "stubborn.py",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n",
    );
    let r = fx.page("/python/stubborn.py", &fx.admin);
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(r.body.contains("its worker was replaced"), "{}", r.body);
    assert_eq!(fx.page("/python/json/info.py", &fx.admin).status, 200);

    fx.c.kill9();
    fx.c.restart();
    let admin = login(fx.c.http, "admin", ADMIN_PASSWORD);
    assert_eq!(fx.ok("/python/getpref.py", &admin), "'42' ''\n");
    assert_eq!(fx.pg.scalar("py", "SELECT count(*) FROM engine_preferences WHERE key = 'alarm.threshold'"), 1);
}

#[test]
fn region_map_draws_and_zooms_in_a_browser() {
    let fx = fixture();
    // What the map must show, from the API: every located country shaded, and the first one's
    // cities once it is clicked (tests/ui/region_map.py; Playwright in Debian's Chromium).
    let geo = fx.json_api("/api/v1/geo/countries");
    let countries: Vec<String> = geo["countries"]
        .as_array()
        .expect("countries")
        .iter()
        .map(|c| c["code"].as_str().expect("code").to_string())
        .collect();
    assert!(!countries.is_empty(), "the API locates no country: {geo}");
    assert!(!countries.iter().any(|c| c == "RU"), "Russia has hosts: pick another unshaded country");
    let chosen = countries[0].clone();
    let api = fx.json_api(&format!("/api/v1/geo/cities?country={chosen}"));
    let cities = api["cities"].as_array().expect("cities").len();
    let spec = serde_json::json!({
        "url": format!("http://{}", fx.c.http),
        "user": "admin",
        "password": ADMIN_PASSWORD,
        "countries": countries,
        "unshaded": "RU",
        "chosen": chosen,
        "cities": cities,
        "unknown_city": api["hosts_unknown"].as_i64() > Some(0),
        "out": std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("region-map-screenshots"),
    });
    ui("region_map.py", &spec, fx.dir.path());
}

/// What `rrd.py` (see [`ntop_rrd_functions_keep_to_the_archive_and_the_callers_sites`]) does:
/// one ntop RRD call from the query's parameters, its result or its exception as JSON.
const RRD_SCRIPT: &str = r#"import json, ntop
p = params
def call():
    op = p['op']
    if op == 'gauge':
        return ntop.updateRRDGauge(p['path'], p['key'], float(p['value']), int(p['step']))
    if op == 'counter':
        return ntop.updateRRDCounter(p['path'], p['key'], int(p['value']), int(p['step']))
    if op == 'fetch':
        r = ntop.rrd_fetch(p['file'], p.get('cf', 'AVERAGE'), p['start'], p['end'])
        return [list(r[0]), list(r[1]), [list(row) for row in r[2]]]
    if op == 'many':
        out = []
        for i in range(int(p['n'])):
            try:
                out.append(ntop.updateRRDGauge('scripts/many', p['tag'] + str(i), 1.0, 60))
            except PermissionError as e:
                out.append(type(e).__name__ + ': ' + str(e))
        return out
try:
    out = {'ok': call()}
except Exception as e:
    out = {'error': type(e).__name__, 'message': str(e), 'permission': isinstance(e, PermissionError),
           'io': isinstance(e, OSError)}
ntop.sendHTTPHeader(12)
ntop.sendString(json.dumps(out))
"#;

/// `rrdtool NAME FILE` (info, lastupdate), its output.
fn rrdtool(cmd: &str, file: &std::path::Path) -> String {
    let out = std::process::Command::new("rrdtool").arg(cmd).arg(file).output().expect("rrdtool");
    assert!(out.status.success(), "rrdtool {cmd} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// ntop's `updateRRDGauge`/`updateRRDCounter`/`rrd_fetch` in a page: a gauge file made with
/// ntop's layout (`rrdtool info` reads it), a file of known values fetched in ntop's shape, a
/// caller limited to a site reading only its probes' files, and the refusals: `..`, absolute
/// paths, links, probes' and rrdAlarm's directories, viewers and site-limited callers writing,
/// steps and values out of bounds, more new files in a run than `rrd_files_per_run`.
#[test]
fn ntop_rrd_functions_keep_to_the_archive_and_the_callers_sites() {
    use wirewatch_rrd::files::{Kind, Point, append};
    let pg = Pg::start();
    let url = pg.create_db("pyrrd");
    let dir = scratch();
    let scripts = scratch();
    let scripts_dir = scripts.path().display().to_string();
    let c = Controller::start(
        &dir.path().join("ctl"),
        &url,
        "pyrrd-ctl",
        free_udp_port(),
        &[
            ("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("WIREWATCH_API_REVERSE_DNS", "false"),
            ("WIREWATCH_ALARMS_CHECK_EVERY_SECS", "0"),
            ("WIREWATCH_PYTHON_SCRIPTS_DIR", scripts_dir.as_str()),
            ("WIREWATCH_PYTHON_RRD_FILES_PER_RUN", "3"),
        ],
    );
    std::fs::write(scripts.path().join("rrd.py"), RRD_SCRIPT).expect("script");
    c.enroll("pa", "site-a", dir.path());
    c.enroll("pb", "site-b", dir.path());
    let user = |name: &str, role: &str, sites: Option<&str>| {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(s) = sites {
            args.extend(["--sites", s]);
        }
        c.cli_stdin(&args, "pass-word-123\n").expect("user add");
        login(c.http, name, "pass-word-123")
    };
    let admin = login(c.http, "admin", ADMIN_PASSWORD);
    let operator = user("olga", "operator", None);
    let viewer = user("vic", "viewer", None);
    let site_admin = user("sam", "admin", Some("site-a"));
    let site_viewer = user("sue", "viewer", Some("site-a"));
    let call = |token: &str, pairs: &[(&str, &str)]| -> Value {
        let r = http(c.http, "GET", &format!("/python/rrd.py?{}", query(pairs)), Some(token), None);
        assert_eq!(r.status, 200, "{pairs:?}: {}", r.body);
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
    };
    let error = |v: &Value| (v["error"].as_str().unwrap_or("(none)").to_string(), v["message"].to_string());

    // Files of known values: pa's (minutes 2 and 3 not written: the update after them spans
    // more than the heartbeat, so minutes 2 to 4 are unknown), pb's.
    let root = c.data_dir.join("rrd");
    const T0: i64 = 1_490_976_000;
    let minute = |i: i64, v: f64| Point { start: T0 + 60 * i, end: T0 + 60 * (i + 1), value: v };
    let pa_file = "pa/interfaces/eth0/knownHostsNum.rrd";
    let pts: Vec<Point> = [0, 1, 4, 5].iter().map(|&i| minute(i, (i + 1) as f64)).collect();
    append(&root.join(pa_file), Kind::Level, 60, &pts).expect("write");
    let pb_file = "pb/interfaces/eth1/knownHostsNum.rrd";
    append(&root.join(pb_file), Kind::Level, 60, &pts).expect("write");
    let (start, end) = (T0.to_string(), (T0 + 359).to_string());
    let fetch =
        |token: &str, file: &str| call(token, &[("op", "fetch"), ("file", file), ("start", &start), ("end", &end)]);

    // ntop's shape: ((start, end, step), (names...), [(value,...) per step, None unknown]).
    let want = serde_json::json!([[T0, T0 + 360, 60], ["gauge"], [[1.0], [2.0], [null], [null], [null], [6.0]]]);
    assert_eq!(fetch(&site_viewer, pa_file)["ok"], want);
    assert_eq!(fetch(&viewer, pb_file)["ok"], want);
    // Another site's probe is not found, as the API's 404; so is a missing file.
    for (token, file) in
        [(&site_viewer, pb_file), (&site_admin, pb_file), (&site_viewer, "pa/interfaces/eth0/none.rrd")]
    {
        let r = fetch(token, file);
        assert_eq!(error(&r).0, "FileNotFoundError", "{file}: {r}");
        assert_eq!(r["io"], true);
    }
    // Paths that leave the root, and a link out of it.
    std::os::unix::fs::symlink("/etc/hostname", root.join("pa/link.rrd")).expect("symlink");
    for bad in ["../ctl/x.rrd", "/etc/passwd", "pa/../pb/interfaces/eth1/knownHostsNum.rrd", ".hidden/x.rrd"] {
        assert_eq!(error(&fetch(&admin, bad)).0, "ValueError", "{bad}");
    }
    assert_eq!(error(&fetch(&admin, "pa/link.rrd")).0, "FileNotFoundError");
    let r = call(&admin, &[("op", "fetch"), ("file", pa_file), ("cf", "MEDIAN"), ("start", "now-1h"), ("end", "now")]);
    assert_eq!(error(&r).0, "ValueError", "{r}");
    let r = call(&admin, &[("op", "fetch"), ("file", pa_file), ("start", "now"), ("end", "now-1h")]);
    assert_eq!(error(&r).0, "ValueError", "{r}");

    // updateRRDGauge by an operator: the file, ntop's layout, read by rrdtool; a counter too.
    let gauge = |token: &str, path: &str, key: &str, value: &str, step: &str| {
        call(token, &[("op", "gauge"), ("path", path), ("key", key), ("value", value), ("step", step)])
    };
    assert_eq!(gauge(&operator, "scripts/lab", "temperature", "21.5", "60")["ok"], 0);
    let made = root.join("scripts/lab/temperature.rrd");
    let info = rrdtool("info", &made);
    for line in
        ["step = 60", "ds[counter].type = \"GAUGE\"", "ds[counter].minimal_heartbeat = 120", "ds[counter].min = 0"]
    {
        assert!(info.contains(line), "{line}: {info}");
    }
    assert!(info.contains("rra[0].cf = \"AVERAGE\"") && info.contains("cf = \"MAX\""), "{info}");
    assert!(rrdtool("lastupdate", &made).contains(": 21.5"), "{}", rrdtool("lastupdate", &made));
    // The same second again is not written (-1), not an error.
    let again = gauge(&operator, "scripts/lab", "temperature", "30", "60");
    assert!(again["ok"] == 0 || again["ok"] == -1, "{again}");
    let r = call(
        &admin,
        &[("op", "counter"), ("path", "scripts/lab/"), ("key", "bytes"), ("value", "1000"), ("step", "10")],
    );
    assert_eq!(r["ok"], 0, "{r}");
    assert!(rrdtool("info", &root.join("scripts/lab/bytes.rrd")).contains("ds[counter].type = \"DERIVE\""));
    // What a script wrote, a script reads back.
    let r = call(
        &admin,
        &[("op", "fetch"), ("file", "scripts/lab/temperature.rrd"), ("start", "now-10min"), ("end", "now")],
    );
    assert_eq!(r["ok"][1], serde_json::json!(["counter"]), "{r}");

    // Who may write: operators and admins who see every site.
    for (who, token) in [("viewer", &viewer), ("site viewer", &site_viewer), ("site admin", &site_admin)] {
        let r = gauge(token, "scripts/lab", "x", "1", "60");
        assert_eq!(error(&r).0, "Forbidden", "{who}: {r}");
        assert_eq!(r["permission"], true);
    }
    // Where: below scripts/ only, no link followed, nothing outside the root.
    std::os::unix::fs::symlink(root.join("pa"), root.join("scripts/intopa")).expect("symlink");
    for (path, key) in [
        ("pa/interfaces/eth0", "knownHostsNum"),
        ("rrdAlarm", "duration"),
        ("pc", "x"),
        ("scripts/intopa/interfaces/eth0", "x"),
    ] {
        let r = gauge(&admin, path, key, "1", "60");
        assert_eq!(error(&r).0, "PermissionError", "{path}/{key}: {r}");
    }
    for (path, key) in [("../scripts", "x"), ("/tmp", "x"), ("scripts/..", "x"), ("scripts", "")] {
        assert_eq!(error(&gauge(&admin, path, key, "1", "60")).0, "ValueError", "{path}/{key}");
    }
    assert!(!root.join("pa/interfaces/eth0/x.rrd").exists() && !root.join("rrdAlarm").exists());
    // Bounds: the step (1 s to a day), the value.
    for step in ["0", "-60", "86401", "99999999999"] {
        assert_eq!(error(&gauge(&admin, "scripts/lab", "s", "1", step)).0, "ValueError", "step {step}");
    }
    for value in ["-1", "nan", "inf"] {
        assert_eq!(error(&gauge(&admin, "scripts/lab", "v", value, "60")).0, "ValueError", "value {value}");
    }
    let r = call(&admin, &[("op", "counter"), ("path", "scripts/lab"), ("key", "c"), ("value", "-5"), ("step", "10")]);
    assert_eq!(error(&r).0, "ValueError", "{r}");
    // At most rrd_files_per_run (3) new files in one run; the next run may make more.
    let many = |tag: &str| call(&admin, &[("op", "many"), ("tag", tag), ("n", "5")])["ok"].clone();
    let first = many("a");
    assert_eq!(&first.as_array().expect("results")[..3], &[0, 0, 0], "{first}");
    for r in &first.as_array().expect("results")[3..] {
        assert!(
            r.as_str().is_some_and(|m| m.starts_with("PermissionError") && m.contains("rrd_files_per_run")),
            "{first}"
        );
    }
    assert!(!root.join("scripts/many/a3.rrd").exists());
    assert_eq!(many("b").as_array().expect("results")[..3], [0, 0, 0]);
    // Updating files the run did not make is not counted.
    let again = many("a");
    assert_eq!(again.as_array().expect("results").iter().filter(|v| **v == 0 || **v == -1).count(), 5, "{again}");
}
