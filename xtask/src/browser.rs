//! Headless Chromium and its WebDriver, for the playground's browser tests.

use std::path::PathBuf;

use crate::{Stop, apt_install};

/// `CHROME_BIN` / `CHROMEDRIVER`, else Debian's paths; installed from
/// Debian's packages when missing.
pub(crate) fn ready() -> Result<(), Stop> {
    let chrome = path("CHROME_BIN", "/usr/bin/chromium");
    let driver = path("CHROMEDRIVER", "/usr/bin/chromedriver");
    if !chrome.exists() || !driver.exists() {
        apt_install(
            &["chromium", "chromium-driver"],
            "the browser tests need Chromium and chromedriver",
        )?;
    }
    if chrome.exists() && driver.exists() {
        println!("== Chromium: {} and {}", chrome.display(), driver.display());
        Ok(())
    } else {
        Err(Stop(format!(
            "no {} or {} after installing: set CHROME_BIN and CHROMEDRIVER",
            chrome.display(),
            driver.display()
        )))
    }
}

fn path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from)
}
