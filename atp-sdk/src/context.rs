//! [`Context`]: what a tool may know about the call it serves, and whether
//! anybody still waits for it.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::cancel::Cancel;
use crate::principal::Principal;
use crate::protocol::RequestId;

/// The call a tool serves: take one as a parameter of an `#[atp_tool]`
/// function (it is not a tool parameter the agent sees).
///
/// A call is *cancelled* when nobody waits for its result any more: it ran
/// past its time limit (the caller was already answered `Tool timed out
/// after ...`), the toolkit is stopping and its shutdown deadline passed,
/// or (over MCP) the client cancelled the request. An `async fn` tool is
/// dropped at that point anyway; a plain `fn` can't be, so a long one
/// should poll [`is_cancelled`](Self::is_cancelled) and return early: its
/// running slot is released when it returns.
///
/// Each call also runs inside a `tracing` span named `call` with the
/// fields `tool` and `request_id`, so the tool's own log lines are tied to
/// the call.
///
/// ```
/// use atp_sdk::{atp_tool, Context};
///
/// /// Counts to `n`, slowly, as long as somebody waits.
/// #[atp_tool(timeout = "30s")]
/// fn count(n: u64, ctx: Context) -> Result<u64, String> {
///     for i in 0..n {
///         if ctx.is_cancelled() {
///             return Err(format!("gave up at {i}"));
///         }
///         std::thread::sleep(std::time::Duration::from_millis(10));
///     }
///     tracing::info!(n, "counted"); // logged with tool=count and the request id
///     Ok(n)
/// }
///
/// fn main() {
///     // Outside a toolkit (say, in a unit test), a detached context:
///     let ctx = Context::detached("count");
///     assert_eq!(count(3, ctx.clone()), Ok(3));
///     assert_eq!(ctx.tool(), "count");
///     assert!(!ctx.is_cancelled());
/// }
/// ```
#[derive(Clone)]
pub struct Context(Arc<Inner>);

struct Inner {
    request_id: RequestId,
    tool: Arc<str>,
    app_name: Arc<str>,
    deadline: Instant,
    /// This call's own cancellation (its time limit, an MCP cancel).
    call: Cancel,
    /// The toolkit's: its shutdown deadline passed.
    shutdown: Cancel,
    /// Who the call was made for (MCP over HTTP as a resource server).
    principal: Option<Principal>,
}

impl Context {
    pub(crate) fn new(
        request_id: RequestId,
        tool: Arc<str>,
        app_name: Arc<str>,
        deadline: Instant,
        call: Cancel,
        shutdown: Cancel,
        principal: Option<Principal>,
    ) -> Self {
        Self(Arc::new(Inner {
            request_id,
            tool,
            app_name,
            deadline,
            call,
            shutdown,
            principal,
        }))
    }

    /// A context for calling a tool function outside a toolkit (tests,
    /// your own code): request id `"detached"`, no time limit to speak of,
    /// never cancelled.
    pub fn detached(tool: &str) -> Self {
        Self::new(
            RequestId::from("detached"),
            Arc::from(tool),
            Arc::from(""),
            Instant::now() + crate::config::MAX_DURATION,
            Cancel::new(),
            Cancel::new(),
            None,
        )
    }

    /// Who the call was made for: the subject and claims of the access
    /// token an MCP client presented, when MCP over HTTP runs as an OAuth
    /// resource server (see [`oauth`](crate::oauth), feature `mcp`).
    /// `None` over ATP, over MCP stdio, and without a resource server.
    pub fn principal(&self) -> Option<&Principal> {
        self.0.principal.as_ref()
    }

    /// The request's id, as the server sent it.
    pub fn request_id(&self) -> &RequestId {
        &self.0.request_id
    }

    /// The tool's name.
    pub fn tool(&self) -> &str {
        &self.0.tool
    }

    /// The toolkit's name (its `app_name`).
    pub fn app_name(&self) -> &str {
        &self.0.app_name
    }

    /// When the call's time limit ends (the wait for a running slot
    /// counted in).
    pub fn deadline(&self) -> Instant {
        self.0.deadline
    }

    /// Whether nobody waits for this call's result any more.
    pub fn is_cancelled(&self) -> bool {
        self.0.call.is_fired() || self.0.shutdown.is_fired()
    }

    /// Resolves when the call is cancelled (see the type's docs). An
    /// `async fn` tool rarely needs it: its future is dropped then anyway.
    /// Useful to stop work handed to other tasks.
    pub async fn cancelled(&self) {
        tokio::select! {
            () = self.0.call.fired() => {}
            () = self.0.shutdown.fired() => {}
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.0.request_id)
            .field("tool", &self.0.tool)
            .field("app_name", &self.0.app_name)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}
