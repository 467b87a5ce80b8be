//! The Python the tests judged by code nobody here wrote run with: the
//! reference ATP client, the official MCP SDK (with `jsonschema`) and the
//! providers' schema libraries, at pinned versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Stop, apt_install, target_dir};

/// What the tests need, pinned (README, "Tests", says the same).
pub(crate) const PINS: &[&str] = &[
    "AgentToolProtocol==0.2.5",
    "mcp==2.3.0",
    "openai-agents==0.24.0",
    "google-genai==3.6.1",
];

/// `ATP_REF_PYTHON` as given, else the venv under `target/xtask/venv`,
/// made and filled with [`PINS`] when it is missing or holds other pins.
pub(crate) fn ready() -> Result<PathBuf, Stop> {
    if let Some(python) = std::env::var_os("ATP_REF_PYTHON").filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        println!("== Python: ATP_REF_PYTHON={} (as given)", python.display());
        return Ok(python);
    }
    let venv = target_dir().join("xtask").join("venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join("atp-pins.txt");
    let wanted = PINS.join("\n");
    if python.exists() && std::fs::read_to_string(&marker).is_ok_and(|pins| pins == wanted) {
        println!("== Python: {} (pins installed)", venv.display());
        return Ok(python);
    }
    println!(
        "== Python: making {} with {}",
        venv.display(),
        PINS.join(" ")
    );
    if !python.exists() {
        make_venv(&venv)?;
    }
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PINS)
        .status()
        .map_err(|err| Stop(format!("could not run {}: {err}", python.display())))?;
    if !pip.success() {
        return Err(Stop(format!(
            "pip could not install {} (the package index must be reachable)",
            PINS.join(" ")
        )));
    }
    std::fs::write(&marker, wanted)
        .map_err(|err| Stop(format!("could not write {}: {err}", marker.display())))?;
    Ok(python)
}

/// `python3 -m venv`, installing Debian's `python3-venv` when it lacks.
fn make_venv(venv: &Path) -> Result<(), Stop> {
    let make = || {
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(venv)
            .status()
            .is_ok_and(|s| s.success())
    };
    if make() {
        return Ok(());
    }
    // Debian's python3 has no ensurepip without python3-venv.
    apt_install(&["python3-venv"], "python3 can't make a venv")?;
    if make() {
        Ok(())
    } else {
        Err(Stop(format!(
            "python3 -m venv {} failed (needs Python 3 with venv)",
            venv.display()
        )))
    }
}
