//! A toolkit links only the transports it serves: `bench/footprint/sdk-stdio`
//! (three tools, atp-sdk with its default features off and `mcp-stdio` on)
//! is built as a crate of its own, outside this workspace, so that no
//! feature of ours is unified into it. Its dependency tree holds none of
//! the ATP links' crates, the official Python MCP client lists and calls
//! its tools over stdio, and asked for a transport it was built without,
//! it says which feature serves it.
//!
//! The build takes a minute or so the first time (its own target directory,
//! `target/lean`), so these tests are ignored by a plain `cargo test`;
//! `cargo xtask test` runs them.

#![cfg(feature = "mcp")]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

/// How long the Python client may take, start to close.
const PYTHON_WAIT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn manifest() -> PathBuf {
    root().join("bench/footprint/sdk-stdio/Cargo.toml")
}

fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The lean toolkit, built once for the tests of this file.
fn lean_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let target = root().join("target/lean");
        let out = cargo()
            .args(["build", "--quiet", "--manifest-path"])
            .arg(manifest())
            .arg("--target-dir")
            .arg(&target)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "the MCP-stdio-only toolkit did not build:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug/footprint-sdk-stdio")
    })
}

/// The packages of the lean build (normal and build dependencies, this
/// machine's target), by name.
fn lean_packages() -> Vec<String> {
    let out = cargo()
        .args([
            "tree",
            "--quiet",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(manifest())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
#[ignore = "builds bench/footprint/sdk-stdio on its own (cargo, a minute or so): `cargo xtask test` runs it"]
fn an_mcp_stdio_only_build_links_none_of_the_atp_links() {
    let packages = lean_packages();
    assert!(
        packages.iter().any(|p| p == "rmcp") && packages.iter().any(|p| p == "atp-sdk"),
        "the tree should hold atp-sdk and rmcp: {packages:?}"
    );
    // The ATP links, TLS, the HTTP stack, MCP's HTTP transport, the
    // resource server's JWTs, RUST_LOG's regex engine, URL parsing.
    for absent in [
        "tokio-websockets",
        "tokio-rustls",
        "rustls",
        "ring",
        "webpki-roots",
        "reqwest",
        "hyper",
        "axum",
        "tower",
        "jsonwebtoken",
        "regex-automata",
        "matchers",
        "url",
        "idna",
    ] {
        assert!(
            !packages.iter().any(|p| p == absent),
            "{absent} is in the MCP-stdio-only build: {packages:?}"
        );
    }
}

#[tokio::test]
#[ignore = "builds bench/footprint/sdk-stdio on its own and needs the official Python MCP SDK: `cargo xtask test` runs it"]
async fn an_mcp_stdio_only_build_serves_the_python_client_without_being_told_the_transport() {
    let binary = tokio::task::spawn_blocking(lean_binary).await.unwrap();
    let python = atp_tests::reference_python("'mcp==2.3.0'");
    // No ATP_TRANSPORT and no key: without the `atp` feature the default
    // transport is MCP on stdio.
    let script = json!({
        "env": {"ATP_APP_NAME": "lean", "RUST_LOG": "warn", "NO_COLOR": "1"},
        "operations": [
            {"name": "list", "op": "list_tools"},
            {"name": "add", "op": "call", "tool": "add", "arguments": {"a": 2, "b": "3.5"}},
            {"name": "echo", "op": "call", "tool": "echo", "arguments": {"text": "lean"}},
            {"name": "count", "op": "call", "tool": "word_count", "arguments": {"text": "one two three"}},
        ],
    });
    let mut command = tokio::process::Command::new(python);
    command
        .arg(root().join("tests/python/mcp_client.py"))
        .arg("stdio")
        .arg(binary)
        .arg("session");
    let (answer, log) =
        atp_tests::run_json_script(command, serde_json::to_vec(&script).unwrap(), PYTHON_WAIT)
            .await;
    let ok = |name: &str| -> &Value {
        answer["results"][name]
            .get("ok")
            .unwrap_or_else(|| panic!("{name}: {}\nlog:\n{log}", answer["results"][name]))
    };
    let mut names: Vec<&str> = ok("list")["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "echo", "word_count"]);
    for (name, text) in [("add", "5.5"), ("echo", "lean"), ("count", "3")] {
        assert_eq!(ok(name)["is_error"], json!(false), "{name}: {}", ok(name));
        assert_eq!(ok(name)["text"], json!(text), "{name}: {}", ok(name));
    }
}

#[test]
#[ignore = "builds bench/footprint/sdk-stdio on its own (cargo, a minute or so): `cargo xtask test` runs it"]
fn an_mcp_stdio_only_build_asked_for_a_transport_it_lacks_names_the_feature() {
    let binary = lean_binary();
    for (transport, feature) in [
        ("ws", "`atp`"),
        ("http", "`atp`"),
        ("mcp-http", "`mcp-http`"),
    ] {
        let out = std::process::Command::new(binary)
            .env("ATP_TRANSPORT", transport)
            .env("ATP_API_KEY", "key")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the toolkit runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{transport}: it should fail: {stderr}"
        );
        assert!(
            stderr.contains(&format!("needs atp-sdk's {feature} feature")),
            "{transport}: {stderr}"
        );
    }
}
