//! Headless Chromium for the browser tests, driven over WebDriver with
//! `thirtyfour`: `Browser::start` runs `chromedriver` on a free loopback
//! port as a child process and opens one session with a fresh profile;
//! `Browser::close` (or, on a panic, `Drop`) ends it all: the session, the
//! driver, every browser process it started, and the profile directory.
//!
//! The browser tests need Debian's `chromium` and `chromium-driver` and
//! this package's `browser` feature (which brings thirtyfour), so they are
//! `#[ignore]`d: run them with [`HOW_TO_RUN`]. Without the browser, or
//! without the feature, they then fail saying what is missing.
//!
//! Why a feature: thirtyfour turns on `serde_json/preserve_order` (a
//! bigger `Value` whose objects keep insertion order) and `tracing`'s
//! default features (tracing-attributes, on syn 2) for everything in the
//! build it is part of. In the default build, atp-sdk and atp-dev would be
//! tested with another serde_json than they ship with, clippy's size lints
//! would fire on their enums, and the workspace would have two syn majors.

use std::path::PathBuf;

/// What to install for the browser tests.
pub const INSTALL_HINT: &str = "the browser tests need Chromium and chromedriver: \
     apt-get install chromium chromium-driver \
     (or point CHROME_BIN and CHROMEDRIVER at them)";

/// The command that runs the browser tests.
pub const HOW_TO_RUN: &str = "cargo test -p atp-tests --features browser \
     --test playground --test playground_security -- --include-ignored";

/// Why a browser test cannot run in this build: the `browser` feature is
/// off (and the browser may be missing too).
pub fn without_the_feature() -> String {
    let missing = match find_browser() {
        Ok(_) => String::new(),
        Err(missing) => format!("; and {missing}"),
    };
    format!(
        "the browser tests are built with atp-tests' `browser` feature (thirtyfour): {HOW_TO_RUN}{missing}"
    )
}

/// Where a browser test leaves its screenshot: `name` in the target
/// directory (`CARGO_TARGET_DIR`, or the workspace's `target`).
pub fn screenshot_path(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join(name)
}

/// Where the browser and its driver are, from `CHROMEDRIVER` and
/// `CHROME_BIN` or Debian's paths; an error naming what is missing and
/// what to install.
pub fn find_browser() -> Result<(PathBuf, PathBuf), String> {
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    let chrome = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let missing: Vec<String> = [&driver, &chrome]
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok((driver, chrome))
    } else {
        Err(format!(
            "{} not found: {INSTALL_HINT}",
            missing.join(" and ")
        ))
    }
}

#[cfg(feature = "browser")]
pub use session::{Browser, Error};

/// The session, with thirtyfour.
#[cfg(feature = "browser")]
mod session {
    use std::path::{Path, PathBuf};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use serde_json::Value;
    use thirtyfour::prelude::*;
    use thirtyfour::{ChromiumLikeCapabilities, WebElement};
    use tokio::process::{Child, Command};
    use tokio::sync::{Semaphore, SemaphorePermit};

    use super::{INSTALL_HINT, find_browser};

    /// A failed browser command (a [`WebDriverError`] or a failed check).
    pub type Error = Box<dyn std::error::Error + Send + Sync>;

    /// How often the waits look again.
    const POLL: Duration = Duration::from_millis(50);

    /// One browser at a time per test binary: on a small machine, two
    /// Chromiums starting at once slow each other past the tests' waits.
    static ONE_AT_A_TIME: Semaphore = Semaphore::const_new(1);

    /// A running chromedriver with one headless Chromium session.
    ///
    /// Call [`close`](Self::close) at the end; if the test panics first, `Drop`
    /// still kills the driver and the browser and removes the profile.
    #[derive(Debug)]
    pub struct Browser {
        driver: Option<WebDriver>,
        chromedriver: Child,
        /// The driver's process group (its pid): the browser's processes are
        /// in it too, so one signal ends whatever the session left.
        group: u32,
        profile: PathBuf,
        _turn: SemaphorePermit<'static>,
    }

    impl Browser {
        /// Starts chromedriver and a headless Chromium session (no network
        /// besides loopback is needed); `extra_args` are added to Chromium's.
        pub async fn start(extra_args: &[&str]) -> Result<Browser, Error> {
            let (driver, chrome) = find_browser()?;
            let turn = ONE_AT_A_TIME.acquire().await?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let chromedriver = Command::new(&driver)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, which the browser it starts joins.
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|err| format!("cannot run {}: {err}; {INSTALL_HINT}", driver.display()))?;
            let group = chromedriver.id().ok_or("chromedriver exited at once")?;
            let profile = std::env::temp_dir()
                .join(format!("atp-browser-test-{}-{port}", std::process::id()));
            let mut browser = Browser {
                driver: None,
                chromedriver,
                group,
                profile,
                _turn: turn,
            };
            std::fs::create_dir_all(&browser.profile)?;

            // The workspace builds rustls on `ring` with no default provider:
            // install it before reqwest builds a client (it would panic).
            let _ = rustls::crypto::ring::default_provider().install_default();
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?;
            let base = format!("http://127.0.0.1:{port}");
            browser.wait_for_driver(&http, &base).await?;

            let mut caps = DesiredCapabilities::chrome();
            caps.set_binary(&chrome.to_string_lossy())?;
            for arg in [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-crash-reporter",
                "--window-size=1280,960",
                &format!("--user-data-dir={}", browser.profile.display()),
            ]
            .into_iter()
            .chain(extra_args.iter().copied())
            {
                caps.add_arg(arg)?;
            }
            let session = WebDriver::builder(base, caps)
                .client(http)
                .request_timeout(Duration::from_secs(60))
                .await?;
            // A page that does not load fails its test in bounded time.
            let loaded = session.set_page_load_timeout(Duration::from_secs(30)).await;
            browser.driver = Some(session);
            loaded?;
            Ok(browser)
        }

        /// Waits (bounded) until chromedriver's `/status` says it is ready.
        async fn wait_for_driver(
            &mut self,
            http: &reqwest::Client,
            base: &str,
        ) -> Result<(), Error> {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(res) = http.get(format!("{base}/status")).send().await
                    && let Ok(body) = res.json::<Value>().await
                    && body["value"]["ready"] == true
                {
                    return Ok(());
                }
                if let Some(status) = self.chromedriver.try_wait()? {
                    return Err(format!("chromedriver exited at start: {status}").into());
                }
                if Instant::now() > deadline {
                    return Err("chromedriver not ready within 30 s".into());
                }
                tokio::time::sleep(POLL).await;
            }
        }

        /// The WebDriver session (tabs, navigation, scripts...).
        pub fn driver(&self) -> &WebDriver {
            self.driver.as_ref().expect("the session is open")
        }

        /// Opens `url` in the current tab.
        pub async fn goto(&self, url: &str) -> Result<(), Error> {
            Ok(self.driver().goto(url).await?)
        }

        /// Every element matching a CSS selector, now.
        pub async fn find_all(&self, css: &str) -> Result<Vec<WebElement>, Error> {
            Ok(self.driver().find_all(By::Css(css)).await?)
        }

        /// Waits (bounded) for an element matching `css` and returns the first.
        pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<WebElement, Error> {
            self.driver()
                .query(By::Css(css))
                .wait(timeout, POLL)
                .first()
                .await
                .map_err(|err| format!("no element `{css}` within {timeout:?}: {err}").into())
        }

        /// Runs a script in the page (a function body) and returns its result.
        pub async fn execute(&self, script: &str) -> Result<Value, Error> {
            Ok(self.driver().execute(script, vec![]).await?.json().clone())
        }

        /// Waits (bounded) until `script` (a function body) returns something
        /// truthy, and returns it.
        pub async fn wait_until(&self, script: &str, timeout: Duration) -> Result<Value, Error> {
            let deadline = Instant::now() + timeout;
            loop {
                let value = self.execute(script).await?;
                let falsy =
                    matches!(&value, Value::Null | Value::Bool(false)) || value == 0 || value == "";
                if !falsy {
                    return Ok(value);
                }
                if Instant::now() > deadline {
                    return Err(format!("`{script}` stayed falsy for {timeout:?}").into());
                }
                tokio::time::sleep(POLL).await;
            }
        }

        /// Clears an input, then types `text` into it.
        pub async fn fill(&self, element: &WebElement, text: &str) -> Result<(), Error> {
            element.clear().await?;
            if !text.is_empty() {
                element.send_keys(text).await?;
            }
            Ok(())
        }

        /// The text of the first element matching `css` (waited for).
        pub async fn text_of(&self, css: &str, timeout: Duration) -> Result<String, Error> {
            Ok(self.wait_for(css, timeout).await?.text().await?)
        }

        /// A PNG screenshot of the current tab, written to `path`.
        pub async fn screenshot(&self, path: &Path) -> Result<(), Error> {
            Ok(self.driver().screenshot(path).await?)
        }

        /// Ends the session (the browser closes), then stops the driver and
        /// removes the profile. Whatever the session's end says, nothing is
        /// left running.
        pub async fn close(mut self) -> Result<(), Error> {
            let ended = match self.driver.take() {
                Some(driver) => driver.quit().await,
                None => Ok(()),
            };
            self.kill_group();
            let _ = self.chromedriver.wait().await;
            remove_profile(&self.profile);
            Ok(ended?)
        }

        /// SIGKILL to the driver's process group: the driver and every browser
        /// process still there. The driver is our child and not yet reaped, so
        /// the group id is still ours.
        fn kill_group(&mut self) {
            if matches!(self.chromedriver.try_wait(), Ok(None)) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", self.group)])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = self.chromedriver.start_kill();
        }
    }

    impl Drop for Browser {
        fn drop(&mut self) {
            // Not closed (a panic, an early return): end everything at once,
            // without a blocking `DELETE /session` round trip.
            if let Some(driver) = self.driver.take() {
                let _ = driver.leak();
            }
            self.kill_group();
            remove_profile(&self.profile);
        }
    }

    /// Removes the profile until it stays gone (bounded): a browser process
    /// may still be writing to it for a moment after it was told to end.
    fn remove_profile(profile: &Path) {
        for _ in 0..40 {
            let _ = std::fs::remove_dir_all(profile);
            if !profile.exists() {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}
