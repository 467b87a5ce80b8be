//! A small W3C WebDriver client for browser tests: starts `chromedriver`,
//! opens a headless Chromium session, and offers the few commands the
//! playground test needs (navigate, find, click, type, read, screenshot).
//!
//! Hand-written over reqwest instead of a WebDriver crate so the tree keeps
//! one `syn` major (the `webdriver` crate brings syn 2 derive crates).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where the browser and its driver are, from `CHROMEDRIVER` and
/// `CHROME_BIN` or Debian's paths. `None` when either is missing.
pub fn find_browser() -> Option<(PathBuf, PathBuf)> {
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    let chrome = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    (driver.exists() && chrome.exists()).then_some((driver, chrome))
}

/// A failed WebDriver command.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running chromedriver with one browser session. Dropping it kills the
/// driver (and with it the browser); call [`close`](Self::close) to end
/// the session properly.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts `driver` on a free loopback port and a headless `chrome`
    /// session with a fresh profile and no network besides loopback.
    pub async fn start(driver: &Path, chrome: &Path) -> Result<Browser, Error> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        // The workspace builds rustls on `ring`; make it the default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("http://127.0.0.1:{port}");

        // Ready when /status says so; bounded.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && let Ok(body) = res.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("chromedriver exited at start: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("chromedriver not ready within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let profile = TempDir::new("atp-playground-chrome")?;
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chrome,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1280,960",
                        format!("--user-data-dir={}", profile.0.display()),
                    ],
                },
            }},
        });
        let res = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await?;
        let body: Value = res.json().await?;
        let session = body["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {body}"))?
            .to_owned();
        Ok(Browser {
            http,
            session: format!("{base}/session/{session}"),
            driver: child,
            _profile: profile,
        })
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method.clone(), &url);
        // Only POST carries a body: chromedriver refuses a DELETE with one
        // (and the session, with its browser, would outlive the test).
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            return Err(format!(
                "{method} {path}: HTTP {status}: {}",
                body["value"]["message"].as_str().unwrap_or("")
            )
            .into());
        }
        Ok(body["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, Error> {
        self.command(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Result<Value, Error> {
        self.command(reqwest::Method::GET, path, Value::Null).await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// Every element matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, Error> {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())))
            .collect())
    }

    /// Waits (bounded) for an element matching `css` and returns the first.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.find_all(css).await?.into_iter().next() {
                return Ok(element);
            }
            if Instant::now() > deadline {
                return Err(format!("no element `{css}` within {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until `script` (a function body returning a value)
    /// returns something truthy, and returns it.
    pub async fn wait_until(&self, script: &str, timeout: Duration) -> Result<Value, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script).await?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!("`{script}` stayed falsy for {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a script in the page (a function body) and returns its result.
    pub async fn execute(&self, script: &str) -> Result<Value, Error> {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Clicks an element.
    pub async fn click(&self, element: &Element) -> Result<(), Error> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await
            .map(drop)
    }

    /// Clears an input, then types `text` into it.
    pub async fn fill(&self, element: &Element, text: &str) -> Result<(), Error> {
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await?;
        if !text.is_empty() {
            self.post(
                &format!("/element/{}/value", element.0),
                json!({ "text": text }),
            )
            .await?;
        }
        Ok(())
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> Result<String, Error> {
        let value = self.get(&format!("/element/{}/text", element.0)).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute of the element (`None` if absent).
    pub async fn attr(&self, element: &Element, name: &str) -> Result<Option<String>, Error> {
        let value = self
            .get(&format!("/element/{}/attribute/{name}", element.0))
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The element's tag name, lower case.
    pub async fn tag(&self, element: &Element) -> Result<String, Error> {
        let value = self.get(&format!("/element/{}/name", element.0)).await?;
        Ok(value.as_str().unwrap_or_default().to_lowercase())
    }

    /// A PNG screenshot of the page, written to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), Error> {
        let value = self.get("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().ok_or("no screenshot data")?)?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Ends the session and stops the driver.
    pub async fn close(mut self) -> Result<(), Error> {
        let ended = self.command(reqwest::Method::DELETE, "", Value::Null).await;
        let _ = self.driver.kill().await;
        // Chromium's helpers may still be writing to the profile for a
        // moment after the session ends: remove it until it stays gone
        // (bounded), so no run leaves a profile behind in the temp dir.
        let profile = self._profile.0.clone();
        for _ in 0..40 {
            let _ = std::fs::remove_dir_all(&profile);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if !profile.exists() {
                break;
            }
        }
        ended.map(drop)
    }
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> std::io::Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    use std::time::SystemTime;
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}
