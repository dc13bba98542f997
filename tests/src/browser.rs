//! Headless Chromium (Debian's package) driven over the DevTools protocol, one page per
//! browser: navigate, evaluate JavaScript, click, wait for loads. The browser tests of the
//! Python pages and of the web security checks share it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{http, wait_until};

/// The Chromium executable.
pub fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("no Chromium (scripts/setup installs Debian's chromium)");
}

/// Headless Chromium driven over the DevTools protocol (one page).
pub struct Browser {
    child: std::process::Child,
    ws: tungstenite::WebSocket<std::net::TcpStream>,
    next: u64,
}

impl Browser {
    pub fn start(exe: &Path, scratch: &Path) -> Browser {
        let profile = scratch.join("chromium-profile");
        let child = std::process::Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromium");
        let port_file = profile.join("DevToolsActivePort");
        wait_until("Chromium's DevTools port", Duration::from_secs(30), || {
            std::fs::read_to_string(&port_file).is_ok_and(|s| s.lines().count() >= 2)
        });
        let port: u16 = std::fs::read_to_string(&port_file)
            .expect("port file")
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .expect("port");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let targets: Value = http(addr, "GET", "/json/list", None, None).json();
        let ws_url = targets
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let stream = std::net::TcpStream::connect(addr).expect("devtools");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let (ws, _) = tungstenite::client(ws_url.as_str(), stream).expect("websocket");
        let mut b = Browser { child, ws, next: 1 };
        b.send("Page.enable", serde_json::json!({}));
        b
    }

    /// Sends a command and returns its result (events before it are skipped).
    pub fn send(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(tungstenite::Message::text(msg)).expect("send");
        loop {
            let m = self.ws.read().expect("devtools message");
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).expect("json");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    pub fn wait_event(&mut self, name: &str) {
        loop {
            let m = self.ws.read().expect("devtools event");
            if let Ok(text) = m.to_text()
                && serde_json::from_str::<Value>(text).is_ok_and(|v| v["method"] == name)
            {
                return;
            }
        }
    }

    pub fn navigate(&mut self, url: &str) {
        self.send("Page.navigate", serde_json::json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }

    pub fn click_and_wait(&mut self, selector: &str) {
        self.send(
            "Runtime.evaluate",
            serde_json::json!({"expression": format!(
                "document.querySelector('{selector}').dispatchEvent(new MouseEvent('click', {{bubbles: true}}))"
            )}),
        );
        self.wait_event("Page.loadEventFired");
    }

    /// Evaluates JavaScript; the value as text.
    pub fn eval(&mut self, expr: &str) -> String {
        let r = self.send("Runtime.evaluate", serde_json::json!({"expression": expr, "returnByValue": true}));
        match &r["result"]["value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
