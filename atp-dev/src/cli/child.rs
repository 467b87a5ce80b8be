//! The toolkit command atp-dev runs beside the server: started in a
//! process group of its own with the server's address and key in its
//! environment, and stopped as a whole (`cargo run` and the program it
//! started) — SIGTERM first, so the toolkit can drain, then SIGKILL.

use std::ffi::OsString;
use std::process::ExitStatus;
use std::time::Duration;

/// How long a stopped command may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running toolkit command.
pub(super) struct Child {
    child: tokio::process::Child,
    /// The process group: the command's pid, kept after it is reaped.
    group: Option<u32>,
    program: String,
}

impl Child {
    /// Starts `command` with `ATP_BASE_URL` and `ATP_API_KEY`. The toolkit's
    /// name is its own: `ATP_APP_NAME` if set, else its executable's name —
    /// under `cargo run` the crate's binary (or `--bin`, `--example`),
    /// never `cargo`.
    pub(super) fn spawn(
        command: &[OsString],
        base_url: &str,
        api_key: &str,
    ) -> Result<Self, String> {
        let program = command[0].to_string_lossy().into_owned();
        let mut child = tokio::process::Command::new(&command[0]);
        child
            .args(&command[1..])
            .env("ATP_BASE_URL", base_url)
            .env("ATP_API_KEY", api_key)
            .kill_on_drop(true);
        // Its own process group, which atp-dev stops as a whole.
        #[cfg(unix)]
        child.process_group(0);
        match child.spawn() {
            Ok(child) => Ok(Self {
                group: child.id(),
                child,
                program,
            }),
            Err(err) => Err(format!("could not run {program}: {err}")),
        }
    }

    /// The program's name, for messages.
    pub(super) fn program(&self) -> &str {
        &self.program
    }

    /// Resolves when the command exits by itself.
    pub(super) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Stops the command's process group: SIGTERM, then SIGKILL after a
    /// grace period.
    pub(super) async fn stop(mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill_group();
            return;
        }
        self.signal_group(false);
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "atp-dev: {} did not stop in {STOP_GRACE:?}: killed",
                self.program
            );
        }
        self.kill_group();
        let _ = self.child.wait().await;
    }

    /// SIGKILL to whatever of the group is left (a grandchild that outlived
    /// its parent).
    fn kill_group(&mut self) {
        self.signal_group(true);
        let _ = self.child.start_kill();
    }

    #[cfg(unix)]
    fn signal_group(&mut self, kill: bool) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let Some(id) = self.group else {
            return;
        };
        let Ok(id) = i32::try_from(id) else {
            return;
        };
        let signal = if kill {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        let _ = killpg(Pid::from_raw(id), signal);
    }

    #[cfg(not(unix))]
    fn signal_group(&mut self, _kill: bool) {
        let _ = self.child.start_kill();
    }
}
