//! `atp-dev --watch [PATH]... -- COMMAND`: runs the toolkit command and
//! restarts it when a watched file changes (debounced). A command that
//! fails (a build error) stays down, said so, until the next change.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use super::child::Child;
use super::signals::Signals;

/// How long changes are gathered into one restart.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// What is watched with no PATH given: the current crate's sources.
const DEFAULT_PATHS: [&str; 4] = ["src", "examples", "Cargo.toml", "build.rs"];

/// Directories never watched (nor their events reported).
const SKIPPED: [&str; 3] = ["target", ".git", "node_modules"];

/// Runs `command`, restarting it on changes under `paths`, until a signal.
pub(super) async fn run(
    paths: Vec<PathBuf>,
    command: &[OsString],
    base_url: &str,
    api_key: &str,
    signals: &mut Signals,
) -> ExitCode {
    let paths = if paths.is_empty() {
        DEFAULT_PATHS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect()
    } else {
        paths
    };
    if paths.is_empty() {
        eprintln!(
            "atp-dev: --watch: nothing to watch here (no src/, examples/ or Cargo.toml); name the paths: --watch PATH ..."
        );
        return ExitCode::from(2);
    }
    let (tx, mut changes) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = match new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let changed: Vec<PathBuf> = events
            .into_iter()
            // Opening or reading a file is no change.
            .filter(|e| !e.event.kind.is_access() && !e.event.kind.is_other())
            .flat_map(|e| e.event.paths.clone())
            .filter(|p| !skipped(p))
            .collect();
        if !changed.is_empty() {
            let _ = tx.send(changed);
        }
    }) {
        Ok(debouncer) => debouncer,
        Err(err) => {
            eprintln!("atp-dev: --watch: could not watch files: {err}");
            return ExitCode::FAILURE;
        }
    };
    for path in &paths {
        if let Err(err) = watch(&mut debouncer, path) {
            eprintln!("atp-dev: --watch {}: {err}", path.display());
            return ExitCode::from(2);
        }
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "atp-dev: watching {} — the command restarts when they change",
        shown.join(", ")
    );

    let mut running = start(command, base_url, api_key);
    loop {
        let exited = async {
            match running.as_mut() {
                Some(child) => child.wait().await.ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = exited => {
                let child = running.take().expect("a child was running");
                match status {
                    Some(status) if status.success() => eprintln!(
                        "atp-dev: {} exited ({status}); waiting for a change to start it again",
                        child.program()
                    ),
                    Some(status) => eprintln!(
                        "atp-dev: {} failed ({status}); fix it, and the next change starts it again",
                        child.program()
                    ),
                    None => eprintln!("atp-dev: lost track of {}", child.program()),
                }
                child.stop().await;
            }
            Some(changed) = changes.recv() => {
                // Later events of the same burst join this restart.
                let mut changed = changed;
                while let Ok(more) = changes.try_recv() {
                    changed.extend(more);
                }
                eprintln!("atp-dev: {} — restarting", describe(&changed));
                if let Some(child) = running.take() {
                    child.stop().await;
                }
                running = start(command, base_url, api_key);
            }
            () = signals.recv() => {
                eprintln!("atp-dev: stopping the command and the server");
                if let Some(child) = running.take() {
                    child.stop().await;
                }
                return ExitCode::from(130);
            }
        }
    }
}

fn start(command: &[OsString], base_url: &str, api_key: &str) -> Option<Child> {
    match Child::spawn(command, base_url, api_key) {
        Ok(child) => Some(child),
        Err(err) => {
            eprintln!("atp-dev: {err}; waiting for a change to try again");
            None
        }
    }
}

/// Watches a file, or a directory and everything under it except
/// `target/`, `.git/` and `node_modules/` (never given an inotify watch:
/// a build's output would flood it).
fn watch<W, C>(
    debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
    path: &Path,
) -> Result<(), String>
where
    W: notify_debouncer_full::notify::Watcher,
    C: notify_debouncer_full::FileIdCache,
{
    if !path.exists() {
        return Err("no such file or directory".to_owned());
    }
    if !path.is_dir() {
        return debouncer
            .watch(path, RecursiveMode::NonRecursive)
            .map_err(|e| e.to_string());
    }
    // The directory itself (new entries), then each subdirectory whole.
    debouncer
        .watch(path, RecursiveMode::NonRecursive)
        .map_err(|e| e.to_string())?;
    let entries = std::fs::read_dir(path).map_err(|e| e.to_string())?;
    for entry in entries.flatten() {
        let sub = entry.path();
        if sub.is_dir() && !skipped(&sub) {
            debouncer
                .watch(&sub, RecursiveMode::Recursive)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn skipped(path: &Path) -> bool {
    path.components()
        .any(|c| SKIPPED.iter().any(|s| c.as_os_str() == *s))
}

/// `src/main.rs changed`, or `src/main.rs and 2 more changed`, relative to
/// the current directory when it can be.
fn describe(changed: &[PathBuf]) -> String {
    let here = std::env::current_dir().ok();
    let mut names: Vec<String> = changed
        .iter()
        .map(|p| {
            here.as_deref()
                .and_then(|here| p.strip_prefix(here).ok())
                .unwrap_or(p)
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        1 => format!("{} changed", names[0]),
        n => format!("{} and {} more changed", names[0], n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_vcs_are_skipped() {
        assert!(skipped(Path::new("/w/crate/target/debug/x")));
        assert!(skipped(Path::new(".git/index")));
        assert!(!skipped(Path::new("src/main.rs")));
        assert!(!skipped(Path::new("src/targets.rs")));
    }

    #[test]
    fn changes_are_described_in_one_line() {
        assert_eq!(describe(&[PathBuf::from("src/a.rs")]), "src/a.rs changed");
        assert_eq!(
            describe(&[
                PathBuf::from("src/b.rs"),
                PathBuf::from("src/a.rs"),
                PathBuf::from("src/a.rs")
            ]),
            "src/a.rs and 1 more changed"
        );
    }
}
