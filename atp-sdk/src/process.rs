//! What a program that owns its process needs around a toolkit: a default
//! log, and the signals that stop it (Ctrl-C/SIGTERM for a graceful stop,
//! a second one for an immediate exit).

/// The log's filter unless `RUST_LOG` says otherwise: rmcp (MCP) logs
/// every notification at info, kept for `RUST_LOG`.
const DEFAULT_FILTER: &str = "info,rmcp=warn";

/// Installs a default `tracing` subscriber unless one is already set:
/// stderr, filtered by `RUST_LOG` (`target=level` directives, comma
/// separated, as [`Targets`](tracing_subscriber::filter::Targets) reads
/// them; no regex engine in the build for it).
pub(crate) fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    if tracing::dispatcher::has_been_set() {
        return;
    }
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    let (filter, unread) = read_filter(&asked);
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init()
        .is_ok()
        && let Some(unread) = unread
    {
        tracing::warn!("RUST_LOG: {unread}");
    }
}

/// `RUST_LOG` as a filter, and what of it was not taken. Span and field
/// filters (`[span]=debug`, `target[{field}]=info`) are left out: they
/// would read as targets that match nothing. With nothing left, or a
/// directive that does not read, the default filter.
fn read_filter(asked: &str) -> (tracing_subscriber::filter::Targets, Option<String>) {
    let (spans, targets): (Vec<&str>, Vec<&str>) = asked
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .partition(|d| d.contains('['));
    let left_out = (!spans.is_empty()).then(|| {
        format!(
            "span and field filters are not taken (run()'s log reads target=level \
             directives); left out: {}",
            spans.join(",")
        )
    });
    if targets.is_empty() {
        let unread = left_out.map(|why| format!("{why}; logging at {DEFAULT_FILTER}"));
        return (default_filter(), unread);
    }
    match targets.join(",").parse() {
        Ok(filter) => (filter, left_out),
        Err(err) => (
            default_filter(),
            Some(format!(
                "{err} (run()'s log reads target=level directives, comma-separated); \
                 logging at {DEFAULT_FILTER}"
            )),
        ),
    }
}

fn default_filter() -> tracing_subscriber::filter::Targets {
    DEFAULT_FILTER.parse().expect("the default filter reads")
}

/// The signal that asked for a stop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention: 128 + the signal's number.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                Signal::Interrupt
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::read_filter;

    #[test]
    fn target_level_directives_are_taken_as_written() {
        let (filter, unread) = read_filter("warn, atp_sdk=debug");
        assert!(unread.is_none());
        assert!(filter.would_enable("atp_sdk::dispatch", &Level::DEBUG));
        assert!(!filter.would_enable("rmcp::service", &Level::INFO));
        assert!(filter.would_enable("rmcp::service", &Level::WARN));
    }

    #[test]
    fn unset_is_the_default_with_rmcp_kept_at_warn() {
        let (filter, unread) = read_filter("");
        assert!(unread.is_none());
        assert!(filter.would_enable("atp_sdk", &Level::INFO));
        assert!(!filter.would_enable("atp_sdk", &Level::DEBUG));
        assert!(!filter.would_enable("rmcp::service", &Level::INFO));
    }

    #[test]
    fn span_filters_are_left_out_and_said_so() {
        let (filter, unread) = read_filter("[call]=debug,atp_sdk=trace");
        let unread = unread.expect("it says what it left out");
        assert!(unread.contains("left out: [call]=debug"), "{unread}");
        assert!(filter.would_enable("atp_sdk", &Level::TRACE));
        // Only span filters: the default, said so.
        let (filter, unread) = read_filter("atp_sdk[{tool}]=debug");
        assert!(unread.unwrap().ends_with("logging at info,rmcp=warn"));
        assert!(filter.would_enable("atp_sdk", &Level::INFO));
        assert!(!filter.would_enable("atp_sdk", &Level::DEBUG));
    }

    #[test]
    fn a_directive_that_does_not_read_gives_the_default() {
        let (filter, unread) = read_filter("atp_sdk=loud");
        assert!(unread.unwrap().ends_with("logging at info,rmcp=warn"));
        assert!(filter.would_enable("atp_sdk", &Level::INFO));
        assert!(!filter.would_enable("rmcp", &Level::INFO));
    }
}
