//! What a tool can ask its caller while it runs, over MCP: the user, for
//! input ([`Elicitation`], `elicitation/create`), and the caller's model,
//! for a completion ([`Sampling`], `sampling/createMessage`).

use serde_json::Value;

/// The user's answer to [`Context::elicit`](crate::Context::elicit).
///
/// ```
/// use atp_sdk::{atp_tool, Context, Elicitation};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Confirm {
///     /// Type the project's name to confirm.
///     project: String,
/// }
///
/// /// Deletes a project, once the user confirms.
/// #[atp_tool]
/// async fn delete_project(name: String, ctx: Context) -> Result<String, atp_sdk::CallError> {
///     match ctx.elicit::<Confirm>(&format!("Really delete {name}?")).await? {
///         Elicitation::Accept(c) if c.project == name => Ok(format!("deleted {name}")),
///         Elicitation::Accept(_) => Ok("the names differ: kept".into()),
///         Elicitation::Decline | Elicitation::Cancel => Ok("kept".into()),
///     }
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elicitation<T> {
    /// The user answered: what they gave, as `T`.
    Accept(T),
    /// The user said no.
    Decline,
    /// The user dismissed the question without choosing.
    Cancel,
}

/// The client's answer, as MCP has it.
#[derive(Debug)]
#[cfg_attr(
    not(any(feature = "mcp-stdio", feature = "mcp-http")),
    allow(dead_code)
)]
pub(crate) enum Answer {
    Accept(Value),
    Decline,
    Cancel,
}

/// A request for a completion from the caller's model
/// ([`Context::sample`](crate::Context::sample)): one user message, and
/// what it may take. A `&str` or a `String` is one with the defaults.
///
/// ```
/// use atp_sdk::Sampling;
/// let request = Sampling::new("Summarize: ...")
///     .system("You write one short sentence.")
///     .max_tokens(60);
/// assert_eq!(request.max_tokens_or_default(), 60);
/// let plain: Sampling = "Hello".into();
/// assert_eq!(plain.max_tokens_or_default(), 1000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub(crate) prompt: String,
    pub(crate) system: Option<String>,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) temperature: Option<f64>,
}

impl Sampling {
    /// A request whose one user message is `prompt`.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            system: None,
            max_tokens: None,
            temperature: None,
        }
    }

    /// A system prompt (the client may ignore it).
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// The most tokens the answer may take (default 1000).
    pub fn max_tokens(mut self, max: u32) -> Self {
        self.max_tokens = Some(max);
        self
    }

    /// The sampling temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// [`max_tokens`](Self::max_tokens), or the default.
    pub fn max_tokens_or_default(&self) -> u32 {
        self.max_tokens.unwrap_or(1000)
    }

    /// The `sampling/createMessage` params.
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) fn to_params(&self) -> Value {
        let mut params = serde_json::json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": self.prompt}}],
            "maxTokens": self.max_tokens_or_default(),
        });
        if let Some(system) = &self.system {
            params["systemPrompt"] = Value::from(system.clone());
        }
        if let Some(temperature) = self.temperature {
            params["temperature"] = Value::from(temperature);
        }
        params
    }
}

impl From<&str> for Sampling {
    fn from(prompt: &str) -> Self {
        Self::new(prompt)
    }
}

impl From<String> for Sampling {
    fn from(prompt: String) -> Self {
        Self::new(prompt)
    }
}

/// The schema `elicitation/create` asks with, for `T`: a flat object of
/// primitives, enums and arrays of enums (the subset MCP allows). Optional
/// fields lose their `null`; defaults and titled enums (doc comments and
/// `#[schemars(title = ...)]` on the variants) carry over.
pub fn schema_for<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut schema = schema.to_value();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            drop_null(property);
        }
    }
    if let Value::Object(root) = &mut schema {
        root.remove("$defs");
    }
    schema
}

/// `["T", "null"]` as `"T"`, and `anyOf: [X, {"type": "null"}]` as `X`.
fn drop_null(property: &mut Value) {
    let Value::Object(map) = property else {
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let one = types.remove(0);
            map.insert("type".to_owned(), one);
        }
    }
    let single = match map.get("anyOf") {
        Some(Value::Array(branches)) => {
            let kept: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            (kept.len() == 1 && branches.len() == 2).then(|| kept[0].clone())
        }
        _ => None,
    };
    if let Some(Value::Object(branch)) = single {
        map.remove("anyOf");
        for (key, value) in branch {
            map.entry(key).or_insert(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(schemars::JsonSchema, serde::Deserialize)]
    #[allow(dead_code)]
    struct Form {
        /// Your name.
        name: String,
        #[serde(default = "thirty")]
        age: Option<u32>,
        verified: bool,
    }

    fn thirty() -> Option<u32> {
        Some(30)
    }

    #[test]
    fn an_elicitation_schema_is_flat_and_loses_its_nulls() {
        let schema = schema_for::<Form>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["name"]["type"], "string");
        assert_eq!(schema["properties"]["name"]["description"], "Your name.");
        assert_eq!(schema["properties"]["age"]["type"], "integer");
        assert_eq!(schema["properties"]["age"]["default"], 30);
        assert_eq!(schema["required"], json!(["name", "verified"]));
        assert!(schema.get("$schema").is_none());
    }
}
