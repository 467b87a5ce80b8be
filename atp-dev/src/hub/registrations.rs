//! What toolkits announced (protocol section 1): their tools with hashes
//! and metadata, and bounded records of the announce requests.

use std::collections::{BTreeMap, HashMap, VecDeque};

use atp_sdk::protocol::{
    RegisterToolRequest, ToolMetadata, VerifyHashRequest, VerifyToolHashRequest,
};

use super::types::AnnounceRecord;

/// How many announce requests are remembered (the latest).
pub(super) const ANNOUNCE_LOG_KEPT: usize = 1000;

/// One toolkit, by key.
#[derive(Debug, Default)]
pub(super) struct Toolkit {
    pub(super) app_name: String,
    pub(super) toolkit_hash: Option<String>,
    pub(super) tools: BTreeMap<String, Registered>,
}

#[derive(Debug)]
pub(super) struct Registered {
    pub(super) code_hash: String,
    pub(super) metadata: ToolMetadata,
}

/// Every toolkit's registrations.
#[derive(Debug, Default)]
pub(super) struct Registrations {
    pub(super) toolkits: HashMap<String, Toolkit>,
    /// The latest announce requests.
    log: VecDeque<AnnounceRecord>,
    /// The latest `register_tool` body of each (key, tool), in the order
    /// each was first registered.
    bodies: Vec<RegisterToolRequest>,
    /// Where each (key, tool)'s body is in `bodies`.
    index: HashMap<(String, String), usize>,
}

impl Registrations {
    fn record(&mut self, record: AnnounceRecord) {
        if self.log.len() == ANNOUNCE_LOG_KEPT {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    pub(super) fn verify_hash(&mut self, body: VerifyHashRequest) -> bool {
        let up_to_date = self
            .toolkits
            .get(body.api_key.expose())
            .and_then(|t| t.toolkit_hash.as_deref())
            == Some(body.toolkit_hash.as_str());
        self.record(AnnounceRecord::VerifyHash(body));
        up_to_date
    }

    pub(super) fn verify_tool_hash(&mut self, body: VerifyToolHashRequest) -> bool {
        let up_to_date = self
            .toolkits
            .get(body.api_key.expose())
            .and_then(|t| t.tools.get(&body.tool_name))
            .is_some_and(|tool| tool.code_hash == body.tool_hash);
        self.record(AnnounceRecord::VerifyToolHash(body));
        up_to_date
    }

    pub(super) fn register(&mut self, body: RegisterToolRequest) {
        let toolkit = self
            .toolkits
            .entry(body.api_key.expose().to_owned())
            .or_default();
        toolkit.app_name.clone_from(&body.app_name);
        if body.toolkit_hash.is_some() {
            toolkit.toolkit_hash.clone_from(&body.toolkit_hash);
        }
        toolkit.tools.insert(
            body.function_id.clone(),
            Registered {
                code_hash: body.code_hash.clone(),
                metadata: body.metadata.clone(),
            },
        );
        self.record(AnnounceRecord::RegisterTool(Box::new(body.clone())));
        let slot = (body.api_key.expose().to_owned(), body.function_id.clone());
        match self.index.get(&slot) {
            Some(&at) => self.bodies[at] = body,
            None => {
                self.index.insert(slot, self.bodies.len());
                self.bodies.push(body);
            }
        }
    }

    pub(super) fn log(&self) -> Vec<AnnounceRecord> {
        self.log.iter().cloned().collect()
    }

    pub(super) fn bodies(&self) -> Vec<RegisterToolRequest> {
        self.bodies.clone()
    }

    /// The keys of the toolkits that registered `tool` (under `app_name`,
    /// if given), sorted.
    pub(super) fn keys_with(&self, tool: &str, app_name: Option<&str>) -> Vec<String> {
        let mut keys: Vec<String> = self
            .toolkits
            .iter()
            .filter(|(_, t)| t.tools.contains_key(tool) && app_name.is_none_or(|a| t.app_name == a))
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The keys of the toolkits named `app_name`, sorted.
    pub(super) fn keys_named(&self, app_name: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .toolkits
            .iter()
            .filter(|(_, t)| t.app_name == app_name)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    pub(super) fn app_name(&self, key: &str) -> Option<&str> {
        self.toolkits.get(key).map(|t| t.app_name.as_str())
    }

    /// The names in `params` that `tool` of toolkit `key` did not announce,
    /// sorted (none when the tool announced no parameter list at all).
    pub(super) fn unknown_params(
        &self,
        key: &str,
        tool: &str,
        params: &serde_json::Value,
    ) -> Vec<String> {
        let (Some(registered), Some(params)) = (
            self.toolkits.get(key).and_then(|t| t.tools.get(tool)),
            params.as_object(),
        ) else {
            return Vec::new();
        };
        let mut unknown: Vec<String> = params
            .keys()
            .filter(|k| !registered.metadata.params.contains(k))
            .cloned()
            .collect();
        unknown.sort();
        unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atp_sdk::ApiKey;

    fn body(key: &str, tool: &str, hash: &str) -> RegisterToolRequest {
        RegisterToolRequest {
            function_id: tool.to_owned(),
            api_key: ApiKey::new(key),
            app_name: "app".to_owned(),
            programming_language: "Rust".to_owned(),
            code_hash: hash.to_owned(),
            toolkit_hash: Some("t".to_owned()),
            metadata: ToolMetadata::default(),
        }
    }

    #[test]
    fn re_announcing_keeps_one_body_per_tool_and_a_bounded_log() {
        let mut registrations = Registrations::default();
        for round in 0..(ANNOUNCE_LOG_KEPT + 5) {
            registrations.register(body("k", "a", &round.to_string()));
            registrations.register(body("k", "b", "same"));
        }
        let bodies = registrations.bodies();
        assert_eq!(bodies.len(), 2);
        assert_eq!(
            bodies[0].code_hash,
            (ANNOUNCE_LOG_KEPT + 4).to_string(),
            "the latest"
        );
        assert_eq!(registrations.log().len(), ANNOUNCE_LOG_KEPT);
    }
}
