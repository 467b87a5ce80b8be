//! A toolkit process serving MCP over streamable HTTP, found where it
//! listens by its log.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::WAIT;

/// The process, killed when dropped, with what it has logged so far.
#[derive(Debug)]
pub struct McpHttpProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/mcp`, as it logged it.
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl McpHttpProcess {
    /// Starts `command` (a toolkit set to serve MCP over HTTP) with its log
    /// piped, and waits until it says where it serves. The log is read
    /// for as long as it runs, so the process never blocks on a full pipe.
    pub async fn start(mut command: tokio::process::Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the toolkit starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn({
            let log = log.clone();
            async move {
                let mut url_tx = Some(url_tx);
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(at) = line.find("url=http://") {
                        let url = line[at + 4..].split_whitespace().next().unwrap_or("");
                        if let Some(tx) = url_tx.take() {
                            let _ = tx.send(url.to_owned());
                        }
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let url = match tokio::time::timeout(WAIT, url_rx).await {
            Ok(Ok(url)) => url,
            Ok(Err(_)) => panic!(
                "the toolkit ended without saying where it serves MCP; its log:\n{}",
                log.lock().unwrap()
            ),
            Err(_) => panic!(
                "the toolkit did not say where it serves MCP within {WAIT:?}; its log:\n{}",
                log.lock().unwrap()
            ),
        };
        Self { child, url, log }
    }

    /// `127.0.0.1:PORT`: where it listens.
    pub fn addr(&self) -> &str {
        let rest = self.url.trim_start_matches("http://");
        rest.split('/').next().unwrap_or(rest)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}
