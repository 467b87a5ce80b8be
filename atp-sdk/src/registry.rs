//! Every `#[atp_tool]` of the program, sorted by name, with what the
//! platform is told about each (metadata, JSON Schema, hashes).

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::protocol::ToolMetadata;
use crate::tool::{ParamKind, ToolDef};

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

impl ToolDef {
    /// The JSON Schema of the tool's parameters: an object with
    /// `properties` (each with its `description` when the parameter has a
    /// `///` comment) and `required`, plus `$defs` when a type needs them.
    pub fn parameters_schema(&self) -> Value {
        let mut generator = SchemaSettings::draft2020_12()
            .with(|s| {
                s.inline_subschemas = true;
                s.meta_schema = None;
            })
            .for_deserialize()
            .into_generator();
        let mut properties = Map::with_capacity(self.params.len());
        for param in self.params {
            let mut schema = (param.schema)(&mut generator);
            if let Some(description) = param.description {
                schema.insert("description".to_owned(), Value::from(description));
            }
            properties.insert(param.name.to_owned(), schema.to_value());
        }
        let mut root = json!({
            "type": "object",
            "properties": properties,
            "required": self.required_params(),
        });
        let definitions = generator.take_definitions(true);
        if !definitions.is_empty() {
            root["$defs"] = Value::Object(definitions);
        }
        root
    }

    /// The names of the required parameters, in declaration order.
    pub fn required_params(&self) -> Vec<&'static str> {
        self.params
            .iter()
            .filter(|p| p.kind == ParamKind::Required)
            .map(|p| p.name)
            .collect()
    }

    /// The metadata registered with the platform: the fields of
    /// `register_tool` plus the JSON Schema under `"parameters"`.
    pub fn metadata(&self) -> ToolMetadata {
        let mut extra = Map::new();
        extra.insert("parameters".to_owned(), self.parameters_schema());
        ToolMetadata {
            params: self.params.iter().map(|p| p.name.to_owned()).collect(),
            required_params: self
                .required_params()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            description: self.description.to_owned(),
            auth_provider: self.auth.map(|a| a.provider.to_owned()),
            auth_type: self.auth.map(|a| a.kind.to_owned()),
            auth_with: self.auth.and_then(|a| a.with.map(str::to_owned)),
            sample_response: Value::String(String::new()),
            source_code: self.source.to_owned(),
            extra,
        }
    }

    /// SHA-256 (hex) of the tool's source text: its `code_hash`.
    pub fn code_hash(&self) -> String {
        sha256_hex(self.source.as_bytes())
    }
}

/// A tool ready to announce and call.
#[derive(Debug)]
pub(crate) struct Tool {
    pub(crate) def: &'static ToolDef,
    pub(crate) metadata: ToolMetadata,
    pub(crate) code_hash: String,
}

/// The tools a toolkit serves, sorted by name, and the toolkit hash.
#[derive(Debug)]
pub(crate) struct Registry {
    tools: Vec<Tool>,
    toolkit_hash: String,
}

impl Registry {
    /// The tools of `defs`: refuses an empty set and two tools of one name.
    pub(crate) fn new(mut defs: Vec<&'static ToolDef>) -> Result<Self, Error> {
        if defs.is_empty() {
            return Err(Error::NoTools);
        }
        defs.sort_by(|a, b| {
            a.name
                .cmp(b.name)
                .then(a.file.cmp(b.file))
                .then(a.line.cmp(&b.line))
        });
        if let Some(pair) = defs.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::DuplicateTool {
                name: pair[0].name.to_owned(),
                first: pair[0].location(),
                second: pair[1].location(),
            });
        }
        let mut hasher = Sha256::new();
        for def in &defs {
            hasher.update(def.source.as_bytes());
        }
        let toolkit_hash = hex(&hasher.finalize());
        let tools = defs
            .into_iter()
            .map(|def| Tool {
                def,
                metadata: def.metadata(),
                code_hash: def.code_hash(),
            })
            .collect();
        Ok(Self {
            tools,
            toolkit_hash,
        })
    }

    /// Every registered tool, or only those named in `only`.
    pub(crate) fn select(only: Option<&[String]>) -> Result<Self, Error> {
        let all: Vec<&'static ToolDef> = registered_tools().collect();
        let Some(only) = only else {
            return Self::new(all);
        };
        let mut picked = Vec::with_capacity(only.len());
        for name in only {
            let mut found = all.iter().filter(|d| d.name == name.as_str()).peekable();
            if found.peek().is_none() {
                return Err(Error::UnknownTool(name.clone()));
            }
            picked.extend(found.copied());
        }
        Self::new(picked)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Tool> {
        self.tools
            .binary_search_by(|tool| tool.def.name.cmp(name))
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
