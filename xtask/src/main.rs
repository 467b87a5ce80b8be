//! The workspace's tasks, run as `cargo xtask <task>` (the alias is in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask test [CARGO TEST ARGS] [-- TEST BINARY ARGS]`: sets up what
//!   the tests judged by code nobody here wrote need — a Python venv with the
//!   pinned clients and schema libraries under `target/xtask/venv` (or the
//!   one `ATP_REF_PYTHON` names), Debian's Chromium and its driver and its
//!   HAProxy, the
//!   official MCP conformance suite and a Node that runs it under
//!   `target/xtask/conformance` (or the one `ATP_MCP_CONFORMANCE` names) — then
//!   runs `cargo test --workspace --all-features` with the ignored tests
//!   included. What it can't set up, it says in one line, with the command
//!   that would.
//! - `cargo xtask setup`: the same set-up, then prints the `export` line
//!   that points single `cargo test` runs at the venv and the suite.
#![forbid(unsafe_code)]

mod balancer;
mod browser;
mod conformance;
mod python;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask test [CARGO TEST ARGS] [-- TEST BINARY ARGS]
       cargo xtask setup

test   set up what the tests need (Python venv, Chromium, HAProxy, the
       MCP conformance suite), then run
       cargo test --workspace --all-features [ARGS] -- --include-ignored [ARGS]
setup  set up only, and print the line that points `cargo test` at them";

/// A set-up step that could not be done: one line, with the way out.
#[derive(Debug)]
pub(crate) struct Stop(pub(crate) String);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let outcome = match task.as_deref() {
        Some("test") => test(&rest),
        Some("setup") => setup().map(|ready| {
            println!(
                "export ATP_REF_PYTHON={} ATP_MCP_CONFORMANCE={}",
                ready.python.display(),
                ready.conformance.display()
            );
            ExitCode::SUCCESS
        }),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    outcome.unwrap_or_else(|Stop(why)| {
        eprintln!("xtask: {why}");
        ExitCode::FAILURE
    })
}

/// The workspace root (this crate's parent directory).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Where Cargo builds: `CARGO_TARGET_DIR`, else `target/` at the root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                root().join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

/// What the ignored tests run with.
struct Ready {
    /// The Python of the reference clients and schema libraries.
    python: PathBuf,
    /// Where the MCP conformance suite and its Node are installed.
    conformance: PathBuf,
}

/// Everything the ignored tests need.
fn setup() -> Result<Ready, Stop> {
    let python = python::ready()?;
    browser::ready()?;
    balancer::ready()?;
    let conformance = conformance::ready()?;
    Ok(Ready {
        python,
        conformance,
    })
}

fn test(rest: &[String]) -> Result<ExitCode, Stop> {
    let ready = setup()?;
    let (cargo_args, binary_args) = match rest.iter().position(|a| a == "--") {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root())
        .args(["test", "--workspace", "--all-features"])
        .args(cargo_args)
        .args(["--", "--include-ignored"])
        .args(binary_args)
        .env("ATP_REF_PYTHON", &ready.python)
        .env("ATP_MCP_CONFORMANCE", &ready.conformance);
    println!(
        "== cargo test --workspace --all-features {}-- --include-ignored {}",
        join(cargo_args),
        join(binary_args)
    );
    let status = command
        .status()
        .map_err(|err| Stop(format!("could not run cargo: {err}")))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

fn join(args: &[String]) -> String {
    args.iter().map(|a| format!("{a} ")).collect()
}

/// Runs `command`, as root or through `sudo` when not root and sudo asks
/// no password; `None` when neither is possible.
pub(crate) fn as_root(program: &str, args: &[&str]) -> Option<Command> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|out| out.stdout.trim_ascii() == b"0");
    if root {
        let mut command = Command::new(program);
        command.args(args);
        return Some(command);
    }
    let sudo = Command::new("sudo")
        .args(["-n", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    sudo.then(|| {
        let mut command = Command::new("sudo");
        command.arg("-n").arg(program).args(args);
        command
    })
}

/// Installs Debian packages as root (or through sudo), or stops with the
/// command to run.
pub(crate) fn apt_install(packages: &[&str], why: &str) -> Result<(), Stop> {
    let way_out = format!(
        "{why}: run `sudo apt-get install {}`, then `cargo xtask test` again",
        packages.join(" ")
    );
    let Some(mut update) = as_root("apt-get", &["update", "-qq"]) else {
        return Err(Stop(way_out));
    };
    println!("== apt-get install {} ({why})", packages.join(" "));
    let updated = update.status().is_ok_and(|s| s.success());
    // Through `env`: sudo would drop DEBIAN_FRONTEND from the environment.
    let mut args = vec![
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-qq",
    ];
    args.extend_from_slice(packages);
    let installed =
        updated && as_root("env", &args).is_some_and(|mut c| c.status().is_ok_and(|s| s.success()));
    if installed {
        Ok(())
    } else {
        Err(Stop(format!("apt-get failed; {way_out}")))
    }
}
