//! `atp-dev --watch [PATH]... -- COMMAND`: runs the toolkit command and
//! restarts it when a watched file changes (debounced). A command that
//! fails (a build error) stays down, said so, until the next change.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use notify_debouncer_full::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
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
    let mut watching = match Watching::new(&paths) {
        Ok(watching) => watching,
        Err(code) => return code,
    };
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "atp-dev: watching {} — the command restarts when they change",
        shown.join(", ")
    );
    supervise(command, base_url, api_key, signals, &mut watching).await
}

/// Runs `command`, restarting it on each burst of changes `watching`
/// reports, until a signal.
async fn supervise(
    command: &[OsString],
    base_url: &str,
    api_key: &str,
    signals: &mut Signals,
    watching: &mut Watching,
) -> ExitCode {
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
                report_exit(&child, status);
                child.stop().await;
            }
            Some(changed) = watching.changes.recv() => {
                let changed = watching.gather(changed);
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

/// Says how the command ended (`None`: its status was lost).
fn report_exit(child: &Child, status: Option<ExitStatus>) {
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

/// The watch on the paths: which changes count, the debouncer, the
/// directories it watches and the bursts of changes it reports.
struct Watching {
    filter: Filter,
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    watches: Watches,
    changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
}

impl Watching {
    /// Watches `paths`; the exit code, said why, when that can't be done.
    fn new(paths: &[PathBuf]) -> Result<Self, ExitCode> {
        let filter = match Filter::new(paths) {
            Ok(filter) => filter,
            Err((path, err)) => {
                eprintln!("atp-dev: --watch {}: {err}", path.display());
                return Err(ExitCode::from(2));
            }
        };
        let (tx, changes) = mpsc::unbounded_channel::<Vec<PathBuf>>();
        let debouncer = match debouncer(filter.clone(), tx) {
            Ok(debouncer) => debouncer,
            Err(err) => {
                eprintln!("atp-dev: --watch: could not watch files: {err}");
                return Err(ExitCode::FAILURE);
            }
        };
        let mut watching = Watching {
            filter,
            debouncer,
            watches: Watches::default(),
            changes,
        };
        watching.watch_all()?;
        Ok(watching)
    }

    /// Gives every watched tree, and each watched file's directory, its
    /// watches; exit code 2, said why, when one can't be given.
    fn watch_all(&mut self) -> Result<(), ExitCode> {
        for tree in &self.filter.trees {
            if let Err(err) = self.watches.add_tree(&mut self.debouncer, tree, tree) {
                eprintln!("atp-dev: --watch {}: {err}", tree.display());
                return Err(ExitCode::from(2));
            }
        }
        for file in &self.filter.files {
            let dir = file.parent().unwrap_or(Path::new("/"));
            if let Err(err) = self.watches.add_dir(&mut self.debouncer, dir) {
                eprintln!("atp-dev: --watch {}: {err}", file.display());
                return Err(ExitCode::from(2));
            }
        }
        Ok(())
    }

    /// `changed` with the changes queued behind it, the watches following
    /// the directories made and removed.
    fn gather(&mut self, mut changed: Vec<PathBuf>) -> Vec<PathBuf> {
        // Later events of the same burst join this restart.
        while let Ok(more) = self.changes.try_recv() {
            changed.extend(more);
        }
        // A new directory is watched from now on, and one that is
        // gone is forgotten (it may come back).
        self.watches
            .follow(&mut self.debouncer, &self.filter, &changed);
        changed
    }
}

/// A debouncer that sends each burst of changes `relevant` counts (not
/// mere reads) to `tx`.
fn debouncer(
    relevant: Filter,
    tx: mpsc::UnboundedSender<Vec<PathBuf>>,
) -> notify::Result<Debouncer<RecommendedWatcher, RecommendedCache>> {
    new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let changed: Vec<PathBuf> = events
            .into_iter()
            // Opening or reading a file is no change.
            .filter(|e| !e.event.kind.is_access() && !e.event.kind.is_other())
            .flat_map(|e| e.event.paths.clone())
            .filter(|p| relevant.matches(p))
            .collect();
        if !changed.is_empty() {
            let _ = tx.send(changed);
        }
    })
}

/// Which changed paths count: anything under a watched directory but its
/// `target/`, `.git/` and `node_modules/`, and the watched files
/// themselves (whatever else happens in their directory).
#[derive(Debug, Clone)]
struct Filter {
    /// Directories watched whole (absolute).
    trees: Vec<PathBuf>,
    /// Files watched alone (absolute).
    files: Vec<PathBuf>,
}

impl Filter {
    fn new(paths: &[PathBuf]) -> Result<Self, (PathBuf, String)> {
        let mut filter = Filter {
            trees: Vec::new(),
            files: Vec::new(),
        };
        for path in paths {
            let absolute = std::fs::canonicalize(path)
                .map_err(|_| (path.clone(), "no such file or directory".to_owned()))?;
            if absolute.is_dir() {
                filter.trees.push(absolute);
            } else {
                filter.files.push(absolute);
            }
        }
        Ok(filter)
    }

    fn matches(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path)
            || self
                .trees
                .iter()
                .any(|tree| path.strip_prefix(tree).is_ok_and(|inside| !skipped(inside)))
    }
}

/// The directories given an inotify watch (each without recursion: the
/// tree is walked here, so `target/` under it never gets one).
#[derive(Debug, Default)]
struct Watches {
    dirs: std::collections::HashSet<PathBuf>,
}

impl Watches {
    /// Watches `dir` and every directory under it but the skipped ones.
    fn add_tree<W, C>(
        &mut self,
        debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
        tree: &Path,
        dir: &Path,
    ) -> Result<(), String>
    where
        W: notify_debouncer_full::notify::Watcher,
        C: notify_debouncer_full::FileIdCache,
    {
        self.add_dir(debouncer, dir)?;
        let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        for entry in entries.flatten() {
            let sub = entry.path();
            let inside = sub.strip_prefix(tree).unwrap_or(&sub);
            // Not through links: a link to `/` would be walked whole.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && !skipped(inside) {
                self.add_tree(debouncer, tree, &sub)?;
            }
        }
        Ok(())
    }

    fn add_dir<W, C>(
        &mut self,
        debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
        dir: &Path,
    ) -> Result<(), String>
    where
        W: notify_debouncer_full::notify::Watcher,
        C: notify_debouncer_full::FileIdCache,
    {
        if self.dirs.contains(dir) {
            return Ok(());
        }
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| e.to_string())?;
        self.dirs.insert(dir.to_owned());
        Ok(())
    }

    /// After `changed`: new directories inside a tree get watched, and
    /// directories that are gone are forgotten. A changed directory is
    /// watched again even when known: one removed and made again within
    /// the burst is a new directory, its old watch gone with the old one.
    /// Links are not followed, as in [`add_tree`](Self::add_tree).
    fn follow<W, C>(
        &mut self,
        debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
        filter: &Filter,
        changed: &[PathBuf],
    ) where
        W: notify_debouncer_full::notify::Watcher,
        C: notify_debouncer_full::FileIdCache,
    {
        self.dirs.retain(|dir| dir.is_dir());
        for path in changed {
            let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
            if !is_dir {
                continue;
            }
            if let Some(tree) = filter.trees.iter().find(|t| path.starts_with(t)) {
                self.dirs.retain(|dir| !dir.starts_with(path));
                if let Err(err) = self.add_tree(debouncer, tree, path) {
                    eprintln!("atp-dev: --watch {}: {err}", path.display());
                }
            }
        }
    }
}

/// Whether a path inside a watched directory is under `target/`, `.git/`
/// or `node_modules/` there.
fn skipped(inside: &Path) -> bool {
    inside
        .components()
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
    fn paths_count_inside_a_tree_or_as_a_watched_file() {
        let filter = Filter {
            // A crate that itself lives under a directory named `target`.
            trees: vec![PathBuf::from("/home/u/target/kit/src")],
            files: vec![PathBuf::from("/home/u/target/kit/Cargo.toml")],
        };
        assert!(filter.matches(Path::new("/home/u/target/kit/src/main.rs")));
        assert!(filter.matches(Path::new("/home/u/target/kit/src/tools/mod.rs")));
        assert!(filter.matches(Path::new("/home/u/target/kit/Cargo.toml")));
        assert!(!filter.matches(Path::new("/home/u/target/kit/Cargo.lock")));
        assert!(!filter.matches(Path::new("/home/u/target/kit/src/target/x")));
        assert!(!filter.matches(Path::new("/home/u/target/kit/src/.git/HEAD")));
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
