//! The signals that stop atp-dev and the command it runs: Ctrl-C and
//! SIGTERM.

/// Ctrl-C and SIGTERM, listened for from creation on: made before the
/// server says it is listening, so a signal sent right after that line is
/// never left to the default action (which would kill the process without
/// stopping the command).
pub(super) struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub(super) fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves at the next Ctrl-C or SIGTERM.
    pub(super) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
