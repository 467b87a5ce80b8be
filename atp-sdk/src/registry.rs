//! The tools a toolkit serves — every `#[atp_tool]` of the program (or a
//! chosen few) plus any [`DynamicTool`] — sorted by name, with what the
//! platform is told about each (metadata, JSON Schema, hashes).

use std::sync::Arc;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::dynamic::DynamicTool;
use crate::error::Error;
use crate::params::CallArgs;
use crate::protocol::ToolMetadata;
use crate::tool::{CallFuture, CallResult, Handler, ParamKind, ToolDef};

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

/// Where a parameter's JSON Schema comes from.
#[derive(Clone)]
pub(crate) enum SchemaSource {
    /// Generated from a Rust type.
    Type(fn(&mut SchemaGenerator) -> schemars::Schema),
    /// Given as JSON.
    Json(Value),
}

/// A parameter, whichever way its tool was defined.
#[derive(Clone)]
pub(crate) struct ParamSpec {
    pub(crate) name: String,
    pub(crate) kind: ParamKind,
    pub(crate) description: Option<String>,
    pub(crate) schema: SchemaSource,
}

/// The JSON Schema of a tool's parameters: an object with `properties`
/// (each with its `description`) and `required`, plus `$defs` when a type
/// needs them.
pub(crate) fn parameters_schema(params: &[ParamSpec]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator();
    let mut properties = Map::with_capacity(params.len());
    for param in params {
        let mut schema = match &param.schema {
            SchemaSource::Type(schema) => schema(&mut generator).to_value(),
            SchemaSource::Json(schema) => schema.clone(),
        };
        if let (Some(description), Value::Object(map)) = (&param.description, &mut schema) {
            map.insert("description".to_owned(), Value::from(description.as_str()));
        }
        properties.insert(param.name.clone(), schema);
    }
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.kind.is_required())
        .map(|p| p.name.as_str())
        .collect();
    let mut root = json!({ "type": "object", "properties": properties, "required": required });
    let definitions = generator.take_definitions(true);
    if !definitions.is_empty() {
        root["$defs"] = Value::Object(definitions);
    }
    root
}

impl ToolDef {
    fn param_specs(&self) -> Vec<ParamSpec> {
        self.params
            .iter()
            .map(|p| ParamSpec {
                name: p.name.to_owned(),
                kind: p.kind,
                description: p.description.map(str::to_owned),
                schema: SchemaSource::Type(p.schema),
            })
            .collect()
    }

    /// The JSON Schema of the tool's parameters: an object with
    /// `properties` (each with its `description` when the parameter has a
    /// `///` comment) and `required`, plus `$defs` when a type needs them.
    pub fn parameters_schema(&self) -> Value {
        parameters_schema(&self.param_specs())
    }

    /// The names of the required parameters, in declaration order.
    pub fn required_params(&self) -> Vec<&'static str> {
        self.params
            .iter()
            .filter(|p| p.kind.is_required())
            .map(|p| p.name)
            .collect()
    }

    /// The metadata registered with the platform: the fields of
    /// `register_tool` plus the JSON Schema under `"parameters"`.
    pub fn metadata(&self) -> ToolMetadata {
        metadata(
            &self.param_specs(),
            self.description,
            self.auth.map(|a| (a.provider, a.kind, a.with)),
            self.source,
        )
    }

    /// SHA-256 (hex) of the tool's source text: its `code_hash`.
    pub fn code_hash(&self) -> String {
        sha256_hex(self.source.as_bytes())
    }
}

pub(crate) fn metadata(
    params: &[ParamSpec],
    description: &str,
    auth: Option<(&str, &str, Option<&str>)>,
    source: &str,
) -> ToolMetadata {
    let mut extra = Map::new();
    extra.insert("parameters".to_owned(), parameters_schema(params));
    ToolMetadata {
        params: params.iter().map(|p| p.name.clone()).collect(),
        required_params: params
            .iter()
            .filter(|p| p.kind.is_required())
            .map(|p| p.name.clone())
            .collect(),
        description: description.to_owned(),
        auth_provider: auth.map(|a| a.0.to_owned()),
        auth_type: auth.map(|a| a.1.to_owned()),
        auth_with: auth.and_then(|a| a.2.map(str::to_owned)),
        sample_response: Value::String(String::new()),
        source_code: source.to_owned(),
        extra,
    }
}

/// How the dispatcher runs a tool.
#[derive(Clone)]
pub(crate) enum Invoke {
    /// A plain `fn`: on the blocking pool.
    Blocking(fn(CallArgs) -> CallResult),
    /// An `async fn`: as a task.
    Async(fn(CallArgs) -> CallFuture),
    /// A run-time tool's handler: as a task.
    Dynamic(Arc<dyn Fn(CallArgs) -> CallFuture + Send + Sync>),
}

/// A tool ready to announce and call.
pub(crate) struct Tool {
    pub(crate) name: String,
    /// `file:line` of a macro tool, or a note for a run-time one.
    pub(crate) location: String,
    /// The required parameters, in declaration order.
    pub(crate) required: Vec<String>,
    /// Whether calls need a token (`auth_provider` set).
    pub(crate) needs_token: bool,
    /// The tool's own time limit, if it sets one.
    pub(crate) timeout: Option<std::time::Duration>,
    pub(crate) invoke: Invoke,
    pub(crate) metadata: ToolMetadata,
    pub(crate) code_hash: String,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Tool {
    fn from_def(def: &'static ToolDef) -> Self {
        Self {
            name: def.name.to_owned(),
            location: def.location(),
            required: def
                .required_params()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            needs_token: def.auth.is_some(),
            timeout: def.timeout,
            invoke: match def.handler {
                Handler::Blocking(call) => Invoke::Blocking(call),
                Handler::Async(call) => Invoke::Async(call),
            },
            metadata: def.metadata(),
            code_hash: def.code_hash(),
        }
    }

    fn from_dynamic(tool: DynamicTool) -> Self {
        let parts = tool.into_parts();
        let metadata = metadata(
            &parts.params,
            &parts.description,
            parts
                .auth
                .as_ref()
                .map(|(p, k, w)| (p.as_str(), k.as_str(), w.as_deref())),
            "",
        );
        // A run-time tool has no source text: its definition is what the
        // platform is told, so that is what the hashes cover.
        let mut metadata = metadata;
        if parts.app {
            metadata.extra.insert("app".to_owned(), Value::Bool(true));
        }
        let source = serde_json::to_string(&json!({
            "name": parts.name,
            "metadata": metadata,
        }))
        .expect("JSON always serializes");
        metadata.source_code = source;
        Self {
            location: if parts.app {
                format!(
                    "an app added with ToolKitClientBuilder::app (`{}`)",
                    parts.name
                )
            } else {
                format!(
                    "a DynamicTool added with ToolKitClientBuilder::tool (`{}`)",
                    parts.name
                )
            },
            required: parts
                .params
                .iter()
                .filter(|p| p.kind.is_required())
                .map(|p| p.name.clone())
                .collect(),
            needs_token: parts.auth.is_some(),
            timeout: parts.timeout,
            invoke: Invoke::Dynamic(parts.handler),
            code_hash: sha256_hex(metadata.source_code.as_bytes()),
            metadata,
            name: parts.name,
        }
    }
}

/// The tools a toolkit serves, sorted by name, and the toolkit hash.
#[derive(Debug)]
pub(crate) struct Registry {
    tools: Vec<Tool>,
    toolkit_hash: String,
    apps: std::collections::HashMap<String, crate::apps::AppEntry>,
}

impl Registry {
    /// The tools: refuses an empty set and two tools of one name.
    fn new(mut tools: Vec<Tool>) -> Result<Self, Error> {
        if tools.is_empty() {
            return Err(Error::NoTools);
        }
        tools.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.location.cmp(&b.location))
        });
        if let Some(pair) = tools.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::DuplicateTool {
                name: pair[0].name.clone(),
                first: pair[0].location.clone(),
                second: pair[1].location.clone(),
            });
        }
        let mut hasher = Sha256::new();
        for tool in &tools {
            hasher.update(tool.metadata.source_code.as_bytes());
        }
        let toolkit_hash = hex(&hasher.finalize());
        Ok(Self {
            tools,
            toolkit_hash,
            apps: std::collections::HashMap::new(),
        })
    }

    /// Every `#[atp_tool]` (or only those named in `only`) plus the
    /// run-time tools.
    #[cfg(test)]
    pub(crate) fn build(only: Option<&[String]>, dynamic: Vec<DynamicTool>) -> Result<Self, Error> {
        Self::build_with_apps(only, dynamic, Vec::new())
    }

    /// Like [`build`](Self::build), plus apps (announced like tools).
    pub(crate) fn build_with_apps(
        only: Option<&[String]>,
        dynamic: Vec<DynamicTool>,
        apps: Vec<crate::apps::AppDef>,
    ) -> Result<Self, Error> {
        let mut dynamic = dynamic;
        let mut entries = std::collections::HashMap::with_capacity(apps.len());
        for def in apps {
            entries.insert(
                def.spec.name().to_owned(),
                crate::apps::AppEntry {
                    app: def.app,
                    required: def.spec.required_names(),
                    needs_token: def.spec.needs_token(),
                    timeout: def.spec.own_timeout(),
                },
            );
            dynamic.push(def.spec);
        }
        // With apps only, `only = None` would add every #[atp_tool] of the
        // program, which is what an app-only toolkit wants too.
        let mut registry = Self::build_tools(only, dynamic)?;
        registry.apps = entries;
        Ok(registry)
    }

    /// An app by name.
    pub(crate) fn app(&self, name: &str) -> Option<&crate::apps::AppEntry> {
        self.apps.get(name)
    }

    fn build_tools(only: Option<&[String]>, dynamic: Vec<DynamicTool>) -> Result<Self, Error> {
        let all: Vec<&'static ToolDef> = registered_tools().collect();
        let mut tools: Vec<Tool> = match only {
            None => all.into_iter().map(Tool::from_def).collect(),
            Some(only) => {
                let mut picked = Vec::with_capacity(only.len());
                for (i, name) in only.iter().enumerate() {
                    if only[..i].contains(name) {
                        continue;
                    }
                    let mut found = all.iter().filter(|d| d.name == name.as_str()).peekable();
                    if found.peek().is_none() {
                        return Err(Error::UnknownTool(name.clone()));
                    }
                    picked.extend(found.map(|def| Tool::from_def(def)));
                }
                picked
            }
        };
        for tool in dynamic {
            tool.check()?;
            tools.push(Tool::from_dynamic(tool));
        }
        Self::new(tools)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Tool> {
        self.tools
            .binary_search_by(|tool| tool.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.tools[i])
    }

    pub(crate) fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub(crate) fn toolkit_hash(&self) -> &str {
        &self.toolkit_hash
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
