//! Users managed over the API by admins (issue 12), against a real controller and PostgreSQL:
//! create and list users with a role and sites (the CLI's name and password rules, existing
//! sites only), change their role and sites (API tokens at once, sessions at their next
//! refresh), disable them (their sessions, refresh tokens and API tokens stop working), reset a
//! password (their sessions end, an admin's own current session stays); the refusals: viewers
//! and operators (403), API tokens (403), bad input (400 naming the field), disabling or
//! demoting yourself (409), and — in the store and in a race of two admins — leaving no
//! enabled admin.

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};
use wirewatch_e2e::*;

/// A controller on its own PostgreSQL with sites `site-a` and `site-b` (one enrolled probe
/// each, no traffic); first admin `admin` / ADMIN_PASSWORD.
struct Bare {
    pg: Pg,
    c: Controller,
    _dir: tempfile::TempDir,
}

fn bare(db: &str) -> Bare {
    let pg = Pg::start();
    let url = pg.create_db(db);
    let dir = scratch();
    let env = [("WIREWATCH_ADMIN_PASSWORD", ADMIN_PASSWORD), ("WIREWATCH_API_REVERSE_DNS", "false")];
    let c = Controller::start(&dir.path().join("ctl"), &url, &format!("{db}-ctl"), free_udp_port(), &env);
    c.enroll("pa", "site-a", dir.path());
    c.enroll("pb", "site-b", dir.path());
    Bare { pg, c, _dir: dir }
}

/// A session: (access token, refresh token).
fn session(api: SocketAddr, user: &str, password: &str) -> (String, String) {
    let r = http(
        api,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": user, "password": password}).to_string()),
    );
    assert_eq!(r.status, 200, "login {user}: {}", r.body);
    let v = r.json();
    (v["access_token"].as_str().expect("access").into(), v["refresh_token"].as_str().expect("refresh").into())
}

fn refresh(api: SocketAddr, refresh_token: &str) -> Resp {
    http(api, "POST", "/api/v1/auth/refresh", None, Some(&json!({"refresh_token": refresh_token}).to_string()))
}

fn post_user(api: SocketAddr, token: &str, body: &Value) -> Resp {
    http(api, "POST", "/api/v1/users", Some(token), Some(&body.to_string()))
}

fn patch_user(api: SocketAddr, token: &str, id: i64, body: &Value) -> Resp {
    http(api, "PATCH", &format!("/api/v1/users/{id}"), Some(token), Some(&body.to_string()))
}

fn site_names(api: SocketAddr, token: &str) -> Vec<String> {
    let r = http(api, "GET", "/api/v1/sites", Some(token), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().expect("sites").iter().map(|s| s["name"].as_str().expect("name").to_string()).collect()
}

fn new_token(api: SocketAddr, session_token: &str, name: &str) -> String {
    let r = http(api, "POST", "/api/v1/tokens", Some(session_token), Some(&json!({"name": name}).to_string()));
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().expect("token").to_string()
}

fn status_of(api: SocketAddr, token: &str) -> u16 {
    http(api, "GET", "/api/v1/me", Some(token), None).status
}

/// The API's error message of a refusal with `status`.
fn refused(r: &Resp, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    r.json()["error"]["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn admins_create_change_and_disable_users() {
    let b = bare("users");
    let api = b.c.http;
    let (admin, _) = session(api, "admin", ADMIN_PASSWORD);

    // Create an operator limited to site-a; the list shows it as made.
    let r = post_user(
        api,
        &admin,
        &json!({"username": "olga", "password": "olga-password-1", "role": "operator", "sites": ["site-a"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let olga = r.json();
    let olga_id = olga["id"].as_i64().expect("id");
    assert_eq!((olga["username"].as_str(), olga["role"].as_str()), (Some("olga"), Some("operator")), "{olga}");
    assert_eq!((olga["sites"].clone(), olga["disabled"].clone()), (json!(["site-a"]), json!(false)), "{olga}");
    assert!(olga["created_at"].is_string(), "{olga}");
    let list = http(api, "GET", "/api/v1/users", Some(&admin), None).json();
    let listed = list.as_array().expect("users").iter().find(|u| u["username"] == "olga").cloned();
    assert_eq!(listed.as_ref(), Some(&olga), "{list}");
    // Without sites: every site. The password is argon2id, as the CLI stores it.
    let r = post_user(api, &admin, &json!({"username": "vic", "password": "vic-password-123", "role": "viewer"}));
    assert_eq!((r.status, r.json()["sites"].clone()), (201, Value::Null), "{}", r.body);
    let vic_id = r.json()["id"].as_i64().expect("id");
    let phc = b.pg.psql("users", "SELECT password_hash FROM users WHERE name = 'vic'").expect("hash");
    assert!(phc.starts_with("$argon2id$"), "{phc}");

    // She signs in and sees her site only; her session and an API token work.
    let (olga_access, olga_refresh) = session(api, "olga", "olga-password-1");
    assert_eq!(site_names(api, &olga_access), ["site-a"]);
    let olga_token = new_token(api, &olga_access, "olga-script");
    assert_eq!(site_names(api, &olga_token), ["site-a"]);
    let vic = login(api, "vic", "vic-password-123");
    assert_eq!(site_names(api, &vic), ["site-a", "site-b"]);

    // Role and sites: her API token has them at once, her session at its next refresh.
    let r = patch_user(api, &admin, olga_id, &json!({"role": "viewer", "sites": ["site-b"]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.json()["role"].clone(), r.json()["sites"].clone()), (json!("viewer"), json!(["site-b"])));
    assert_eq!(site_names(api, &olga_token), ["site-b"]);
    let me = http(api, "GET", "/api/v1/me", Some(&olga_token), None).json();
    assert_eq!(me["role"], "viewer", "{me}");
    let r = refresh(api, &olga_refresh);
    assert_eq!(r.status, 200, "{}", r.body);
    let (olga_access, olga_refresh) = (
        r.json()["access_token"].as_str().expect("access").to_string(),
        r.json()["refresh_token"].as_str().expect("refresh").to_string(),
    );
    let me = http(api, "GET", "/api/v1/me", Some(&olga_access), None).json();
    assert_eq!((me["role"].clone(), me["sites"].clone()), (json!("viewer"), json!(["site-b"])), "{me}");
    assert_eq!(site_names(api, &olga_access), ["site-b"]);
    // A viewer now: she may not create tokens (the role is the stored one).
    let r = http(api, "POST", "/api/v1/tokens", Some(&olga_access), Some(r#"{"name":"x"}"#));
    assert_eq!(r.status, 403, "{}", r.body);
    // Every site again (null), then back to operator on site-a.
    let r = patch_user(api, &admin, olga_id, &json!({"sites": null}));
    assert_eq!((r.status, r.json()["sites"].clone()), (200, Value::Null), "{}", r.body);
    assert_eq!(site_names(api, &olga_token), ["site-a", "site-b"]);
    let r = patch_user(api, &admin, olga_id, &json!({"role": "operator", "sites": ["site-a"]}));
    assert_eq!(r.status, 200, "{}", r.body);

    // Disabled: her session, her refresh token and her API token stop working; no sign-in.
    let r = patch_user(api, &admin, olga_id, &json!({"disabled": true}));
    assert_eq!((r.status, r.json()["disabled"].clone()), (200, json!(true)), "{}", r.body);
    assert_eq!(status_of(api, &olga_access), 401, "her access token");
    assert_eq!(refresh(api, &olga_refresh).status, 401, "her refresh token");
    assert_eq!(status_of(api, &olga_token), 401, "her API token");
    let r = http(api, "POST", "/api/v1/auth/login", None, Some(r#"{"username":"olga","password":"olga-password-1"}"#));
    assert_eq!(r.status, 401, "{}", r.body);
    let listed = http(api, "GET", "/api/v1/users", Some(&admin), None).json();
    assert!(listed.as_array().expect("users").iter().any(|u| u["username"] == "olga" && u["disabled"] == true));
    // Enabled again: she signs in anew; what she held stays revoked.
    let r = patch_user(api, &admin, olga_id, &json!({"disabled": false}));
    assert_eq!((r.status, r.json()["disabled"].clone()), (200, json!(false)), "{}", r.body);
    let (olga_access, olga_refresh) = session(api, "olga", "olga-password-1");
    assert_eq!(status_of(api, &olga_token), 401, "an API token revoked by the disable stays revoked");
    let olga_token = new_token(api, &olga_access, "olga-script-2");

    // A password reset ends her sessions (access and refresh), keeps her API tokens.
    let r = patch_user(api, &admin, olga_id, &json!({"password": "olga-new-password"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status_of(api, &olga_access), 401, "her session after the reset");
    assert_eq!(refresh(api, &olga_refresh).status, 401, "her refresh token after the reset");
    assert_eq!(status_of(api, &olga_token), 200, "her API token after the reset");
    let r = http(api, "POST", "/api/v1/auth/login", None, Some(r#"{"username":"olga","password":"olga-password-1"}"#));
    assert_eq!(r.status, 401, "the old password: {}", r.body);
    let (olga_access, _) = session(api, "olga", "olga-new-password");

    // An admin changing their own password keeps this session and ends their others.
    let admin_id = http(api, "GET", "/api/v1/me", Some(&admin), None).json()["id"].as_i64().expect("id");
    let (other_access, other_refresh) = session(api, "admin", ADMIN_PASSWORD);
    let r = patch_user(api, &admin, admin_id, &json!({"password": "admin-password-2"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status_of(api, &admin), 200, "the session that changed it");
    assert_eq!(status_of(api, &other_access), 401, "another session of the admin");
    assert_eq!(refresh(api, &other_refresh).status, 401);

    // Yourself: neither disabled nor demoted (409, and nothing changed).
    let m = refused(&patch_user(api, &admin, admin_id, &json!({"disabled": true})), 409);
    assert!(m.contains("cannot disable yourself"), "{m}");
    let m = refused(&patch_user(api, &admin, admin_id, &json!({"role": "operator"})), 409);
    assert!(m.contains("cannot demote yourself"), "{m}");
    assert_eq!(status_of(api, &admin), 200);
    assert_eq!(b.pg.scalar("users", "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"), 1);

    // Viewers and operators: 403 for listing, creating and changing users.
    for (who, token) in [("viewer", &vic), ("operator", &olga_access)] {
        let m = refused(&http(api, "GET", "/api/v1/users", Some(token), None), 403);
        assert!(m.contains("admin role"), "{who}: {m}");
        let r = post_user(api, token, &json!({"username": "x1", "password": "x1-password-1", "role": "admin"}));
        assert_eq!(r.status, 403, "{who}: {}", r.body);
        let r = patch_user(api, token, vic_id, &json!({"role": "admin"}));
        assert_eq!(r.status, 403, "{who}: {}", r.body);
        let r = patch_user(api, token, admin_id, &json!({"disabled": true}));
        assert_eq!(r.status, 403, "{who}: {}", r.body);
    }
    // An admin's API token may list users but not create or change them.
    let admin_token = new_token(api, &admin, "admin-script");
    assert_eq!(http(api, "GET", "/api/v1/users", Some(&admin_token), None).status, 200);
    let m = refused(
        &post_user(api, &admin_token, &json!({"username": "x2", "password": "x2-password-1", "role": "viewer"})),
        403,
    );
    assert!(m.contains("API token cannot manage users"), "{m}");
    let r = patch_user(api, &admin_token, vic_id, &json!({"role": "admin"}));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(b.pg.scalar("users", "SELECT count(*) FROM users WHERE name IN ('x1', 'x2')"), 0);
    assert_eq!(b.pg.scalar("users", "SELECT count(*) FROM users WHERE role = 'admin'"), 1, "nobody promoted");
}

#[test]
fn bad_user_input_is_refused_naming_the_field() {
    let b = bare("badusers");
    let api = b.c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let ok = json!({"username": "ann", "password": "ann-password-1", "role": "viewer", "sites": ["site-a"]});
    let with = |k: &str, v: Value| {
        let mut body = ok.clone();
        body[k] = v;
        body
    };
    let without = |k: &str| {
        let mut body = ok.clone();
        body.as_object_mut().expect("object").remove(k);
        body
    };
    for (body, field, detail) in [
        (with("username", json!("bad name!")), "username", "bad user name"),
        (with("username", json!("")), "username", "bad user name"),
        (with("username", json!("a".repeat(65))), "username", "bad user name"),
        (with("password", json!("short")), "password", "at least 10 characters"),
        (with("password", json!("p".repeat(1025))), "password", "at most 1024 bytes"),
        (with("role", json!("root")), "role", "unknown variant"),
        (with("sites", json!(["site-a", "nowhere"])), "sites", "unknown site \"nowhere\""),
        (with("sites", json!(["x", "y"])), "sites", "unknown sites \"x\", \"y\""),
        (with("sites", json!([])), "sites", "at least one site"),
        (with("sites", json!(["site-a", "site-a"])), "sites", "listed twice"),
        (with("sites", json!("site-a")), "sites", "invalid type"),
        (without("password"), "password", "missing field"),
        (without("role"), "role", "missing field"),
        (with("admin", json!(true)), "admin", "unknown field"),
    ] {
        let r = post_user(api, &admin, &body);
        let m = refused(&r, 400);
        assert!(m.contains(field) && m.contains(detail), "{body}: {m:?} should name {field} ({detail})");
    }
    assert_eq!(b.pg.scalar("badusers", "SELECT count(*) FROM users"), 1, "nothing created");

    // A name taken: 409.
    assert_eq!(post_user(api, &admin, &ok).status, 201);
    let m = refused(&post_user(api, &admin, &ok), 409);
    assert!(m.contains("ann") && m.contains("already exists"), "{m}");
    let id = b.pg.scalar("badusers", "SELECT id FROM users WHERE name = 'ann'");

    for (body, field, detail) in [
        (json!({}), "nothing to change", ""),
        (json!({"role": "root"}), "role", "unknown variant"),
        (json!({"sites": ["site-b", "nowhere"]}), "sites", "unknown site \"nowhere\""),
        (json!({"sites": []}), "sites", "at least one site"),
        (json!({"password": "short"}), "password", "at least 10 characters"),
        (json!({"disabled": "yes"}), "disabled", "invalid type"),
        (json!({"name": "bob"}), "name", "unknown field"),
    ] {
        let m = refused(&patch_user(api, &admin, id, &body), 400);
        assert!(m.contains(field) && m.contains(detail), "{body}: {m:?} should name {field} ({detail})");
    }
    let ann = http(api, "GET", "/api/v1/users", Some(&admin), None).json();
    let ann = ann.as_array().expect("users").iter().find(|u| u["username"] == "ann").cloned().expect("ann");
    assert_eq!((ann["role"].clone(), ann["sites"].clone()), (json!("viewer"), json!(["site-a"])), "unchanged: {ann}");
    let r = patch_user(api, &admin, 999_999, &json!({"role": "viewer"}));
    assert_eq!((r.status, r.code()), (404, "not_found".to_string()), "{}", r.body);
    let r = http(api, "PATCH", "/api/v1/users/nope", Some(&admin), Some(r#"{"role":"viewer"}"#));
    assert_eq!(r.status, 400, "{}", r.body);
}

/// The last enabled admin: the store refuses to disable or demote them whoever asks, and two
/// admins demoting each other at the same moment leave one admin (one succeeds; the other is
/// refused, 409 or 403 depending on which got there first).
#[test]
fn the_last_enabled_admin_stays() {
    let b = bare("lastadmin");
    let api = b.c.http;
    let admin = login(api, "admin", ADMIN_PASSWORD);

    let store_check = |expect_last: bool| {
        let url = b.pg.url("lastadmin");
        tokio::runtime::Runtime::new().expect("runtime").block_on(async move {
            use wirewatch_store::accounts::{UserChange, UserUpdate};
            let store = wirewatch_store::Store::connect(wirewatch_store::parse_url(&url).expect("url"), 2)
                .await
                .expect("connect");
            let id = store.user_by_name("admin").await.expect("query").expect("admin").id;
            for change in [
                UserChange { disabled: Some(true), ..Default::default() },
                UserChange { role: Some("operator".into()), ..Default::default() },
            ] {
                let r = store.update_user(id, &change).await.expect("update");
                assert_eq!(matches!(r, UserUpdate::LastAdmin), expect_last, "{change:?}: {r:?}");
                if !expect_last {
                    // Undo (the other admin remains).
                    let undo = UserChange { disabled: Some(false), role: Some("admin".into()), ..Default::default() };
                    assert!(matches!(store.update_user(id, &undo).await.expect("undo"), UserUpdate::Updated(_)));
                }
            }
        });
    };
    store_check(true);
    let admin_state =
        b.pg.psql("lastadmin", "SELECT role || ' ' || (disabled_at IS NULL) FROM users WHERE name = 'admin'");
    assert_eq!(admin_state.expect("state").trim(), "admin true", "nothing changed");

    // With a second (enabled) admin, the first may be changed; a disabled admin does not count.
    let r = post_user(api, &admin, &json!({"username": "ada", "password": "ada-password-1", "role": "admin"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let ada_id = r.json()["id"].as_i64().expect("id");
    store_check(false);
    assert_eq!(patch_user(api, &admin, ada_id, &json!({"disabled": true})).status, 200);
    store_check(true);
    assert_eq!(patch_user(api, &admin, ada_id, &json!({"disabled": false})).status, 200);

    // Two admins demote each other at once.
    let admin = login(api, "admin", ADMIN_PASSWORD);
    let ada = login(api, "ada", "ada-password-1");
    let admin_id = b.pg.scalar("lastadmin", "SELECT id FROM users WHERE name = 'admin'");
    let gate = Arc::new(Barrier::new(2));
    let runs: Vec<_> = [(admin.clone(), ada_id), (ada.clone(), admin_id)]
        .into_iter()
        .map(|(token, target)| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait();
                patch_user(api, &token, target, &json!({"role": "viewer"}))
            })
        })
        .collect();
    let mut answers: Vec<Resp> = runs.into_iter().map(|t| t.join().expect("thread")).collect();
    answers.sort_by_key(|r| r.status);
    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    assert!(matches!(answers[1].status, 403 | 409), "{}: {}", answers[1].status, answers[1].body);
    if answers[1].status == 409 {
        assert!(answers[1].body.contains("last enabled admin"), "{}", answers[1].body);
    }
    assert_eq!(
        b.pg.scalar("lastadmin", "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"),
        1,
        "exactly one admin left"
    );
}

/// An admin limited to some sites manages no account but their own tokens: they could
/// otherwise give an account of theirs every site, or mint a token for an admin of every site.
#[test]
fn an_admin_of_some_sites_cannot_reach_past_them_through_accounts() {
    let b = bare("users_scoped");
    let api = b.c.http;
    let (admin, _) = session(api, "admin", ADMIN_PASSWORD);
    let r = post_user(
        api,
        &admin,
        &json!({"username": "sam", "password": "sam-password-12", "role": "admin", "sites": ["site-a"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let sam_id = r.json()["id"].as_i64().expect("id");
    let (sam, _) = session(api, "sam", "sam-password-12");
    let everything = json!({"username": "eve", "password": "eve-password-123", "role": "admin", "sites": null});
    assert!(refused(&post_user(api, &sam, &everything), 403).contains("every site"));
    assert!(refused(&patch_user(api, &sam, sam_id, &json!({"sites": null})), 403).contains("every site"));
    assert_eq!(http(api, "GET", "/api/v1/users", Some(&sam), None).status, 403);
    let mint = json!({"name": "steal", "username": "admin"}).to_string();
    assert_eq!(http(api, "POST", "/api/v1/tokens", Some(&sam), Some(&mint)).status, 403);
    // Their own tokens still work; the admin of every site's stay out of their list.
    new_token(api, &admin, "admins-own");
    new_token(api, &sam, "sams-own");
    let mine = http(api, "GET", "/api/v1/tokens", Some(&sam), None).json();
    let names: Vec<&str> = mine.as_array().expect("tokens").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["sams-own"], "{mine}");
    assert_eq!(site_names(api, &sam), ["site-a"]);
    assert_eq!(b.pg.scalar("users_scoped", "SELECT count(*) FROM users WHERE name = 'eve'"), 0);
}
