//! The console's account pages end to end (issue 12), in headless Chromium driven by Playwright
//! (`tests/ui/admin.py`), against a controller with two sites: an admin adds an operator limited
//! to one site through the form, who signs in elsewhere and sees that site only; the admin
//! disables them and their session ends; an API token made in `/tokens` is shown once, copied,
//! works with the API and, revoked in the page, is refused; the API's refusals (a short
//! password, disabling yourself) shown as its messages; a password reset; a viewer has no Admin
//! entry and `/admin/users` tells them why. Labels, keyboard focus, the 390×844 layout, no
//! console error. Screenshots go to `<target>/tmp/console-admin-screenshots`.

use std::path::PathBuf;

use serde_json::json;
use wirewatch_e2e::*;

#[test]
fn admin_pages_in_a_real_browser() {
    build_web();
    const DB: &str = "console_admin";
    let pg = Pg::start();
    let url = pg.create_db(DB);
    let dir = scratch();
    let env = [("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WIREWATCH_API_REVERSE_DNS", "false")];
    let c = Controller::start(&dir.path().join("ctl"), &url, "console-admin-ctl", free_udp_port(), &env);
    // Two sites (one enrolled probe each; no traffic is needed to list them).
    c.enroll("pa", "site-a", dir.path());
    c.enroll("pb", "site-b", dir.path());
    c.cli_stdin(&["user", "add", "vic", "--role", "viewer", "--password-stdin"], "vic-password-123\n")
        .expect("user add");

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-admin-screenshots");
    let spec = json!({
        "url": format!("http://{}", c.http),
        "user": "admin",
        "password": ADMIN_PASSWORD,
        "viewer": "vic",
        "viewer_password": "vic-password-123",
        "viewer_new_password": "vic-password-456",
        "operator": "opal",
        "operator_password": "opal-password-1",
        "site": "site-a",
        "other_site": "site-b",
        "out": out,
    });
    ui("admin.py", &spec, dir.path());

    // What the pages did, as the database has it.
    let q = |sql: &str| pg.psql(DB, sql).expect("psql").trim().to_string();
    assert_eq!(
        q(
            "SELECT role || ' ' || array_to_string(sites, ',') || ' ' || (disabled_at IS NOT NULL) FROM users WHERE name = 'opal'"
        ),
        "operator site-a true",
        "the operator added through the form, then disabled"
    );
    assert_eq!(pg.scalar(DB, "SELECT count(*) FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE u.name = 'opal' AND r.revoked_at IS NULL"), 0);
    assert_eq!(
        q(
            "SELECT string_agg(t.name || ':' || u.name || ':' || (t.revoked_at IS NOT NULL), ' ' ORDER BY t.id) FROM api_tokens t JOIN users u ON u.id = t.user_id"
        ),
        "ci-script:admin:true vic-dashboard:vic:false",
        "the token revoked in the page, and the viewer's"
    );
    assert_eq!(pg.scalar(DB, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"), 1);
    assert_eq!(pg.scalar(DB, "SELECT count(*) FROM users WHERE name = 'short'"), 0, "a refused user was not made");
    let r =
        http(c.http, "POST", "/api/v1/auth/login", None, Some(r#"{"username":"vic","password":"vic-password-456"}"#));
    assert_eq!(r.status, 200, "the viewer's password reset in the page: {}", r.body);
}
