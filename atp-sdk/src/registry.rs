//! The tools a toolkit serves — every `#[atp_tool]` of the program (or a
//! chosen few) plus any [`DynamicTool`] — sorted by name, and what the
//! platform is told about them and about the apps (metadata, JSON Schema,
//! hashes).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use sha2::{Digest, Sha256};

use crate::call_metrics::ToolMetrics;
use crate::dynamic::DynamicTool;
use crate::error::Error;
use crate::params::CallArgs;
use crate::state::States;
use crate::tool::{
    Announced, CallFuture, CallResult, ElicitDef, Handler, StateDef, ToolDef, announce_run_time,
    metadata,
};

inventory::collect!(ToolDef);

/// Every tool registered with `#[atp_tool]` in this program, in no
/// particular order.
///
/// A tool in a crate that nothing references is not linked into the
/// program and so is not listed: reference such a crate with
/// `use my_tools as _;`.
///
/// ```
/// /// Says hello.
/// #[atp_sdk::atp_tool]
/// fn hello() -> &'static str { "hello" }
///
/// fn main() {
///     assert!(atp_sdk::registered_tools().any(|tool| tool.name == "hello"));
/// }
/// ```
pub fn registered_tools() -> impl Iterator<Item = &'static ToolDef> {
    inventory::iter::<ToolDef>.into_iter()
}

/// How the dispatcher runs a tool.
#[derive(Clone)]
pub(crate) enum Invoke {
    /// A plain `fn`: on the SDK's worker threads.
    Blocking(fn(CallArgs) -> CallResult),
    /// An `async fn`: in the call's task.
    Async(fn(CallArgs) -> CallFuture),
    /// A plain `fn` marked `inline`: in the call's task.
    Inline(fn(CallArgs) -> CallResult),
    /// A run-time tool's handler: in the call's task.
    Dynamic(Arc<dyn Fn(CallArgs) -> CallFuture + Send + Sync>),
}

/// A tool ready to call.
pub(crate) struct ServedTool {
    pub(crate) name: String,
    /// The name again, cheap to hand to each call's context.
    pub(crate) shared_name: Arc<str>,
    /// Whether calls need a [`Context`](crate::Context) made for them.
    pub(crate) uses_context: bool,
    /// Arguments read as sent (`strict_args`), not leniently.
    pub(crate) strict_args: bool,
    /// Arguments the tool does not take are refused, not ignored.
    pub(crate) deny_unknown_fields: bool,
    /// The required parameters, in declaration order.
    pub(crate) required: Vec<String>,
    /// Every parameter: an argument named otherwise is ignored (and said
    /// at debug level).
    pub(crate) params: Vec<String>,
    /// Whether calls need a token (`auth_provider` set).
    pub(crate) needs_token: bool,
    /// The tool's own time limit, if it sets one.
    pub(crate) timeout: Option<std::time::Duration>,
    /// The OAuth scopes an MCP caller's token needs for it.
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) scopes: Vec<String>,
    /// The `auth_provider` its token is for, if it needs one (a token
    /// source over MCP HTTP asks for it).
    #[cfg_attr(not(feature = "mcp-http"), allow(dead_code))]
    pub(crate) auth_provider: Option<String>,
    pub(crate) invoke: Invoke,
    /// Plain-`fn` calls of this tool whose thread is still running
    /// (including ones answered "timed out"): named in the log when the
    /// program exits without them.
    pub(crate) blocking_running: Arc<AtomicUsize>,
    /// Its counters and histogram.
    pub(crate) metrics: ToolMetrics,
}

impl std::fmt::Debug for ServedTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedTool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A tool of either kind, before sorting: what to call, and what to say.
struct Entry {
    tool: ServedTool,
    announced: Announced,
    states: Vec<StateDef>,
    elicits: &'static [ElicitDef],
}

fn from_def(def: &'static ToolDef) -> Entry {
    Entry {
        tool: ServedTool {
            name: def.name.to_owned(),
            shared_name: Arc::from(def.name),
            uses_context: def.context,
            strict_args: def.strict_args,
            deny_unknown_fields: def.deny_unknown_fields,
            required: def
                .required_params()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            params: def.params.iter().map(|p| p.name.to_owned()).collect(),
            needs_token: def.auth.is_some(),
            timeout: def.timeout.map(crate::config::clamp),
            scopes: def.scopes.iter().map(|s| (*s).to_owned()).collect(),
            auth_provider: def.auth.as_ref().map(|a| a.provider.to_owned()),
            invoke: match def.handler {
                Handler::Blocking(call) => Invoke::Blocking(call),
                Handler::Async(call) => Invoke::Async(call),
                Handler::Inline(call) => Invoke::Inline(call),
            },
            blocking_running: Arc::default(),
            metrics: ToolMetrics::default(),
        },
        announced: Announced {
            name: def.name.to_owned(),
            location: def.location(),
            metadata: def.metadata(),
            code_hash: def.code_hash(),
            output_schema: (def.output_schema)(),
        },
        states: def.states.to_vec(),
        elicits: def.elicits,
    }
}

fn from_dynamic(tool: DynamicTool) -> Entry {
    let parts = tool.into_parts();
    let location = format!(
        "a DynamicTool added with ToolKitClientBuilder::tool (`{}`)",
        parts.name
    );
    let meta = metadata(
        &parts.params,
        &parts.description,
        parts
            .auth
            .as_ref()
            .map(|(p, k, w)| (p.as_str(), k.as_str(), w.as_deref())),
        "",
    );
    Entry {
        announced: Announced {
            output_schema: parts.output_schema.clone(),
            ..announce_run_time(&parts.name, location, meta, false)
        },
        tool: ServedTool {
            required: parts
                .params
                .iter()
                .filter(|p| p.kind.is_required())
                .map(|p| p.name.clone())
                .collect(),
            params: parts.params.iter().map(|p| p.name.clone()).collect(),
            needs_token: parts.auth.is_some(),
            timeout: parts.timeout.map(crate::config::clamp),
            scopes: parts.scopes.clone(),
            auth_provider: parts.auth.as_ref().map(|(provider, _, _)| provider.clone()),
            invoke: Invoke::Dynamic(parts.handler),
            blocking_running: Arc::default(),
            metrics: ToolMetrics::default(),
            shared_name: Arc::from(parts.name.as_str()),
            // A run-time tool's handler may ask its arguments for one.
            uses_context: true,
            strict_args: parts.strict_args,
            deny_unknown_fields: parts.deny_unknown_fields,
            name: parts.name,
        },
        states: parts.states,
        elicits: &[],
    }
}

/// The tools a toolkit serves, sorted by name; everything it announces
/// (tools and apps), sorted by name; and the toolkit hash.
#[derive(Debug)]
pub(crate) struct Registry {
    tools: Vec<ServedTool>,
    announced: Vec<Announced>,
    toolkit_hash: String,
}

impl Registry {
    /// Every `#[atp_tool]` (or only those named in `only`), the run-time
    /// tools and the apps. Refuses an empty set, two tools (or apps) of
    /// one name, a name in `only` that is no tool, and a tool whose
    /// [`State`](crate::State) is not in `states`.
    pub(crate) fn build(
        only: Option<&[String]>,
        dynamic: Vec<DynamicTool>,
        apps: Vec<Announced>,
        states: &States,
    ) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let all: Vec<&'static ToolDef> = registered_tools().collect();
        let mut entries: Vec<Entry> = match only {
            None => all.into_iter().map(from_def).collect(),
            Some(only) => {
                let mut picked = Vec::with_capacity(only.len());
                for (i, name) in only.iter().enumerate() {
                    if only[..i].contains(name) {
                        continue;
                    }
                    let mut found = all.iter().filter(|d| d.name == name.as_str()).peekable();
                    if found.peek().is_none() {
                        problems.push(Error::UnknownTool(name.clone()));
                    }
                    picked.extend(found.map(|def| from_def(def)));
                }
                picked
            }
        };
        for tool in dynamic {
            match tool.check() {
                Ok(()) => entries.push(from_dynamic(tool)),
                Err(err) => problems.push(err),
            }
        }
        for entry in &entries {
            for missing in entry
                .states
                .iter()
                .filter(|state| !states.contains((state.type_id)()))
            {
                problems.push(Error::MissingState {
                    tool: entry.tool.name.clone(),
                    type_name: (missing.type_name)(),
                });
            }
            problems.extend(elicit_problems(entry));
        }
        let mut announced: Vec<Announced> = entries.iter().map(|e| e.announced.clone()).collect();
        announced.extend(apps);
        // No tools because every one named was unknown is said already.
        if announced.is_empty() && problems.is_empty() {
            problems.push(Error::NoTools);
        }
        announced.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.location.cmp(&b.location))
        });
        for pair in announced.windows(2).filter(|w| w[0].name == w[1].name) {
            problems.push(Error::DuplicateTool {
                name: pair[0].name.clone(),
                first: pair[0].location.clone(),
                second: pair[1].location.clone(),
            });
        }
        Error::all(problems)?;
        let mut hasher = Sha256::new();
        for entry in &announced {
            hasher.update(entry.metadata.source_code.as_bytes());
        }
        let toolkit_hash = format!("{:x}", hasher.finalize());
        let mut tools: Vec<ServedTool> = entries.into_iter().map(|e| e.tool).collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            tools,
            announced,
            toolkit_hash,
        })
    }

    /// A tool by name.
    pub(crate) fn get(&self, name: &str) -> Option<&ServedTool> {
        self.tools
            .binary_search_by(|tool| tool.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.tools[i])
    }

    /// The callable tools, sorted by name.
    pub(crate) fn tools(&self) -> &[ServedTool] {
        &self.tools
    }

    /// Everything announced (tools and apps), sorted by name.
    pub(crate) fn announced(&self) -> &[Announced] {
        &self.announced
    }

    pub(crate) fn toolkit_hash(&self) -> &str {
        &self.toolkit_hash
    }
}

/// The tool's `elicit::<T>` types whose schema MCP can't carry (only MCP
/// can ask the user anything: without an MCP feature, none).
fn elicit_problems(entry: &Entry) -> Vec<Error> {
    #[cfg(any(feature = "mcp-stdio", feature = "mcp-http"))]
    {
        entry
            .elicits
            .iter()
            .filter_map(|elicit| {
                let reason = crate::mcp::elicitation_schema((elicit.schema)()).err()?;
                Some(Error::ElicitSchema {
                    tool: entry.tool.name.clone(),
                    type_name: (elicit.type_name)(),
                    reason,
                })
            })
            .collect()
    }
    #[cfg(not(any(feature = "mcp-stdio", feature = "mcp-http")))]
    {
        let _ = entry.elicits;
        Vec::new()
    }
}
