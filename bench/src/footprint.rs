//! `atp-bench footprint`: what a toolkit costs to build and to keep
//! running, against the same server written with rmcp alone. Both are
//! crates of their own under `bench/footprint/` (three tools over MCP
//! stdio: `sdk-stdio` on atp-sdk with only `mcp-stdio`, `rmcp-stdio` on
//! rmcp's `#[tool]`), each built in a target directory of its own so that
//! nothing of this workspace is unified into them. For each:
//!
//! - its packages (`cargo tree -e normal,build`, this machine's target,
//!   the crate itself included);
//! - a cold release build (an empty target directory; the sources already
//!   downloaded), timed; the release profile is the one both crates set:
//!   LTO, one codegen unit, stripped;
//! - the stripped binary's size;
//! - its idle RSS, after `initialize` and `tools/list` (and a call,
//!   checked, so the number is of a server that works);
//! - a warm rebuild after its `main.rs` is touched, in the dev profile
//!   (the edit-compile loop), the best of three.
//!
//! The builds run one after the other, never side by side.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One crate measured.
struct Crate {
    label: &'static str,
    dir: &'static str,
    binary: &'static str,
}

const CRATES: [Crate; 2] = [
    Crate {
        label: "atp-sdk, `mcp-stdio` only",
        dir: "sdk-stdio",
        binary: "footprint-sdk-stdio",
    },
    Crate {
        label: "rmcp alone (the limit)",
        dir: "rmcp-stdio",
        binary: "footprint-rmcp-stdio",
    },
];

/// What was measured of one crate.
struct Measured {
    packages: usize,
    cold_build: Duration,
    size: u64,
    rss_kib: u64,
    warm_rebuild: Duration,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(command: &mut Command, what: &str) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|err| format!("{what}: could not run cargo: {err}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The distinct packages of the crate's build.
fn packages(manifest: &Path) -> Result<usize, String> {
    let tree = run(
        cargo()
            .args(["tree", "-e", "normal,build", "--prefix", "none"])
            .arg("--manifest-path")
            .arg(manifest),
        "cargo tree",
    )?;
    let mut ids: Vec<&str> = tree
        .lines()
        .map(|line| {
            line.trim_end_matches(" (*)")
                .trim_end_matches(" (proc-macro)")
        })
        .filter(|line| !line.is_empty())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.len())
}

fn measure(krate: &Crate, target_root: &Path) -> Result<Measured, String> {
    let dir = root().join("bench/footprint").join(krate.dir);
    let manifest = dir.join("Cargo.toml");
    let target = target_root.join(krate.dir);
    let packages = packages(&manifest)?;
    run(
        cargo().arg("fetch").arg("--manifest-path").arg(&manifest),
        "cargo fetch",
    )?;
    let _ = std::fs::remove_dir_all(&target);
    eprintln!("== {}: a cold release build", krate.label);
    let started = Instant::now();
    run(
        cargo()
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target),
        "the cold build",
    )?;
    let cold_build = started.elapsed();
    let binary = target.join("release").join(krate.binary);
    let size = std::fs::metadata(&binary)
        .map_err(|err| format!("{}: {err}", binary.display()))?
        .len();
    let rss_kib = idle_rss(&binary)?;
    eprintln!("== {}: warm rebuilds (dev profile)", krate.label);
    let dev = || {
        cargo()
            .args(["build", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .output()
    };
    let _ = dev();
    let main = dir.join("src/main.rs");
    let mut warm_rebuild = Duration::MAX;
    for _ in 0..3 {
        touch(&main)?;
        let started = Instant::now();
        let out = dev().map_err(|err| format!("the warm rebuild: {err}"))?;
        if !out.status.success() {
            return Err(format!(
                "the warm rebuild failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        warm_rebuild = warm_rebuild.min(started.elapsed());
    }
    Ok(Measured {
        packages,
        cold_build,
        size,
        rss_kib,
        warm_rebuild,
    })
}

/// Marks `path` changed, as an edit would.
fn touch(path: &Path) -> Result<(), String> {
    let file = std::fs::File::options()
        .append(true)
        .open(path)
        .map_err(|err| format!("{}: {err}", path.display()))?;
    file.set_modified(std::time::SystemTime::now())
        .map_err(|err| format!("{}: {err}", path.display()))
}

/// Starts the server, says hello, lists its tools, calls `echo` (and
/// checks the answer), waits half a second, and reads its RSS.
fn idle_rss(binary: &Path) -> Result<u64, String> {
    let mut child = Command::new(binary)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("{}: {err}", binary.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let send = |stdin: &mut std::process::ChildStdin, message: Value| -> Result<(), String> {
        writeln!(stdin, "{message}").map_err(|err| format!("writing to the server: {err}"))
    };
    let mut read = || -> Result<Value, String> {
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .map_err(|err| format!("reading from the server: {err}"))?;
        serde_json::from_str(&line).map_err(|err| format!("the server said {line:?}: {err}"))
    };
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "atp-bench", "version": "0"}}}),
    )?;
    read()?;
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )?;
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )?;
    let listed = read()?;
    let tools = listed["result"]["tools"].as_array().map_or(0, Vec::len);
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "footprint"}}}),
    )?;
    let called = read()?;
    let text = &called["result"]["content"][0]["text"];
    if tools != 3 || text != "footprint" {
        let _ = child.kill();
        return Err(format!(
            "{}: expected 3 tools and an echo, got {listed} and {called}",
            binary.display()
        ));
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        });
    // Its stdin closed, the server ends.
    drop(stdin);
    let _ = child.wait();
    rss.ok_or_else(|| "could not read the server's RSS".to_owned())
}

/// Measures both crates and renders the table and the targets.
pub(crate) fn footprint() -> Result<String, String> {
    let target_root = root().join("target/footprint");
    let mut measured = Vec::new();
    for krate in &CRATES {
        measured.push(measure(krate, &target_root)?);
    }
    let (sdk, bare) = (&measured[0], &measured[1]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reproduce: `cargo run --release -p atp-bench -- footprint --write BENCHMARKS.md`.\n\n\
         Machine: {}.\n",
        crate::machine()
    );
    let _ = writeln!(
        out,
        "| three tools over MCP stdio | packages | cold release build | stripped binary | idle RSS | warm rebuild (dev) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for (krate, m) in CRATES.iter().zip(&measured) {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} s | {:.2} MB | {:.2} MB | {:.2} s |",
            krate.label,
            m.packages,
            m.cold_build.as_secs_f64(),
            m.size as f64 / 1e6,
            m.rss_kib as f64 * 1024.0 / 1e6,
            m.warm_rebuild.as_secs_f64(),
        );
    }
    let _ = writeln!(
        out,
        "\n| an MCP-stdio-only toolkit within 1.3× of bare rmcp | atp-sdk ÷ rmcp | |"
    );
    let _ = writeln!(out, "|---|---:|---|");
    let rows = [
        ("packages", sdk.packages as f64 / bare.packages as f64),
        (
            "cold release build",
            sdk.cold_build.as_secs_f64() / bare.cold_build.as_secs_f64(),
        ),
        ("stripped binary", sdk.size as f64 / bare.size as f64),
        ("idle RSS", sdk.rss_kib as f64 / bare.rss_kib as f64),
    ];
    for (name, ratio) in rows {
        let _ = writeln!(
            out,
            "| {name} | {ratio:.2}× | {} |",
            crate::verdict(ratio <= 1.3)
        );
    }
    Ok(out)
}
