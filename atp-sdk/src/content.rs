//! Rich results: text, images, audio and resources a tool returns beside
//! (or instead of) JSON.
//!
//! A tool may return any of [`Content`], [`Image`], [`Audio`],
//! [`Resource`] and [`ResourceLink`], a `Vec` of them, or a
//! [`ToolResult`] that pairs content blocks with structured data — or
//! its own type, by implementing [`IntoToolResult`]. In `Ok` of a
//! `Result` too: `Err(e)` stays an error answer with `e`'s text.
//!
//! Over MCP each is a content block of `tools/call`'s result (`text`,
//! `image`, `audio`, `resource`, `resource_link`), with the structured data
//! as `structuredContent`. Over ATP, which carries JSON only, the result is
//! the same blocks in MCP's JSON shape, binary data in base64:
//!
//! ```json
//! {"content": [{"type": "text", "text": "the chart:"},
//!              {"type": "image", "data": "iVBORw0KGgo...", "mimeType": "image/png"}],
//!  "structuredContent": {"points": 3}}
//! ```
//!
//! (`structuredContent` only when there is some.) A type of your own named
//! `Image` or `Content` is not taken for these: what a return type is, the
//! compiler decides by the traits it implements, not by its name.
//!
//! ```
//! use atp_sdk::atp_tool;
//! use atp_sdk::content::{Content, Image};
//!
//! /// Draws the chart.
//! #[atp_tool(read_only)]
//! fn chart(series: Vec<f64>) -> Vec<Content> {
//!     let png = vec![0x89, b'P', b'N', b'G']; // a real tool draws one
//!     vec![
//!         Content::text(format!("{} points:", series.len())),
//!         Image::new(png, "image/png").into(),
//!     ]
//! }
//! # fn main() {}
//! ```

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::error::CallError;

/// One block of a rich result.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// Text.
    Text(String),
    /// An image.
    Image(Image),
    /// A sound.
    Audio(Audio),
    /// A resource's contents, embedded.
    Resource(Resource),
    /// A link to a resource the client may fetch.
    ResourceLink(ResourceLink),
}

impl Content {
    /// A text block.
    ///
    /// ```
    /// use atp_sdk::content::Content;
    /// assert_eq!(Content::text("hi"), Content::Text("hi".into()));
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// The block in MCP's JSON shape (binary data in base64), as sent.
    ///
    /// ```
    /// use atp_sdk::content::{Content, Image};
    /// let block = Content::from(Image::new(vec![1, 2, 3], "image/png")).to_json();
    /// assert_eq!(block, serde_json::json!({"type": "image", "data": "AQID", "mimeType": "image/png"}));
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => json!({"type": "text", "text": text}),
            Self::Image(media) => media.block("image"),
            Self::Audio(media) => media.0.block("audio"),
            Self::Resource(resource) => json!({"type": "resource", "resource": resource.to_json()}),
            Self::ResourceLink(link) => link.to_json(),
        }
    }
}

/// Each content type serializes to its block's JSON (a result blocks in a
/// `Vec` of your own struct, say), the same as [`Content::to_json`].
macro_rules! serialize_as_json {
    ($($ty:ident => $json:expr),* $(,)?) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let to_json: fn(&$ty) -> Value = $json;
                to_json(self).serialize(serializer)
            }
        }
    )*};
}

serialize_as_json!(
    Content => Content::to_json,
    Image => |image| Content::from(image.clone()).to_json(),
    Audio => |audio| Content::from(audio.clone()).to_json(),
    Resource => |resource| Content::from(resource.clone()).to_json(),
    ResourceLink => ResourceLink::to_json,
    ToolResult => ToolResult::to_json,
);

/// An image: its bytes and MIME type (`image/png`, `image/jpeg`, ...).
///
/// ```
/// use atp_sdk::content::Image;
/// let image = Image::new(vec![0x89, b'P', b'N', b'G'], "image/png");
/// assert_eq!(image.mime_type(), "image/png");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    data: Vec<u8>,
    mime_type: String,
}

impl Image {
    /// An image of `data`, in the format `mime_type` names.
    pub fn new(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            mime_type: mime_type.into(),
        }
    }

    /// The bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The MIME type.
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    fn block(&self, kind: &str) -> Value {
        json!({"type": kind, "data": base64(&self.data), "mimeType": self.mime_type})
    }
}

/// A sound: its bytes and MIME type (`audio/wav`, `audio/mpeg`, ...).
///
/// ```
/// use atp_sdk::content::Audio;
/// let audio = Audio::new(b"RIFF....WAVE".to_vec(), "audio/wav");
/// assert_eq!(audio.mime_type(), "audio/wav");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio(Image);

impl Audio {
    /// A sound of `data`, in the format `mime_type` names.
    pub fn new(data: impl Into<Vec<u8>>, mime_type: impl Into<String>) -> Self {
        Self(Image::new(data, mime_type))
    }

    /// The bytes.
    pub fn data(&self) -> &[u8] {
        self.0.data()
    }

    /// The MIME type.
    pub fn mime_type(&self) -> &str {
        self.0.mime_type()
    }
}

/// A resource's contents, embedded in the result: text or bytes, under its
/// URI.
///
/// ```
/// use atp_sdk::content::Resource;
/// let notes = Resource::text("file:///notes.md", "# Notes").with_mime_type("text/markdown");
/// assert_eq!(notes.uri(), "file:///notes.md");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    uri: String,
    mime_type: Option<String>,
    body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Text(String),
    Blob(Vec<u8>),
}

impl Resource {
    /// A text resource.
    pub fn text(uri: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: None,
            body: Body::Text(text.into()),
        }
    }

    /// A binary resource, in the format `mime_type` names.
    pub fn blob(
        uri: impl Into<String>,
        data: impl Into<Vec<u8>>,
        mime_type: impl Into<String>,
    ) -> Self {
        Self {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            body: Body::Blob(data.into()),
        }
    }

    /// Says what format the resource is in.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("uri".to_owned(), Value::from(self.uri.as_str()));
        if let Some(mime_type) = &self.mime_type {
            map.insert("mimeType".to_owned(), Value::from(mime_type.as_str()));
        }
        match &self.body {
            Body::Text(text) => map.insert("text".to_owned(), Value::from(text.as_str())),
            Body::Blob(data) => map.insert("blob".to_owned(), Value::from(base64(data))),
        };
        Value::Object(map)
    }
}

/// A link to a resource the client may read itself (MCP's
/// `resource_link`).
///
/// ```
/// use atp_sdk::content::ResourceLink;
/// let link = ResourceLink::new("file:///report.pdf", "report.pdf")
///     .with_description("The full report")
///     .with_mime_type("application/pdf");
/// assert_eq!(link.uri(), "file:///report.pdf");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLink {
    uri: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    mime_type: Option<String>,
    size: Option<u64>,
}

impl ResourceLink {
    /// A link to `uri`, named `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
        }
    }

    /// The name a client shows.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// What the resource is.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// What format the resource is in.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Its size in bytes.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".to_owned(), Value::from("resource_link"));
        map.insert("uri".to_owned(), Value::from(self.uri.as_str()));
        map.insert("name".to_owned(), Value::from(self.name.as_str()));
        for (key, value) in [
            ("title", &self.title),
            ("description", &self.description),
            ("mimeType", &self.mime_type),
        ] {
            if let Some(value) = value {
                map.insert(key.to_owned(), Value::from(value.as_str()));
            }
        }
        if let Some(size) = self.size {
            map.insert("size".to_owned(), Value::from(size));
        }
        Value::Object(map)
    }
}

macro_rules! into_content {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Content {
            fn from(value: $ty) -> Self {
                Self::$ty(value)
            }
        }
    )*};
}

into_content!(Image, Audio, Resource, ResourceLink);

/// Content blocks, with structured data beside them if you like: the
/// result type that pairs the two. Over MCP the blocks are `content` and
/// the data `structuredContent`; over ATP both, in the JSON shape the
/// [module](self) shows.
///
/// ```
/// use atp_sdk::atp_tool;
/// use atp_sdk::content::{Content, Image, ToolResult};
///
/// #[derive(serde::Serialize)]
/// struct Stats { points: usize, max: f64 }
///
/// /// Draws the chart and says what is in it.
/// #[atp_tool]
/// fn chart(series: Vec<f64>) -> ToolResult {
///     let stats = Stats { points: series.len(), max: series.iter().cloned().fold(f64::MIN, f64::max) };
///     ToolResult::new([Image::new(vec![0x89, b'P', b'N', b'G'], "image/png")]).with_structured(&stats)
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    content: Vec<Content>,
    structured: Option<Value>,
    invalid: Option<String>,
}

impl ToolResult {
    /// A result of these blocks.
    pub fn new<C: Into<Content>>(content: impl IntoIterator<Item = C>) -> Self {
        Self {
            content: content.into_iter().map(Into::into).collect(),
            structured: None,
            invalid: None,
        }
    }

    /// Adds a block.
    pub fn with_content(mut self, block: impl Into<Content>) -> Self {
        self.content.push(block.into());
        self
    }

    /// Adds structured data: `value` as JSON. A value serde can't write
    /// (a map with non-string keys) makes the call's answer an error
    /// saying so, as a returned value does.
    pub fn with_structured<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.structured = Some(value),
            Err(err) => self.invalid = Some(err.to_string()),
        }
        self
    }

    /// The blocks.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    /// The structured data, if any.
    pub fn structured(&self) -> Option<&Value> {
        self.structured.as_ref()
    }

    /// The result as ATP carries it (see the [module](self)).
    ///
    /// ```
    /// use atp_sdk::content::{Content, ToolResult};
    /// let result = ToolResult::new([Content::text("hi")]).with_structured(&3);
    /// assert_eq!(
    ///     result.to_json(),
    ///     serde_json::json!({"content": [{"type": "text", "text": "hi"}], "structuredContent": 3}),
    /// );
    /// ```
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert(
            "content".to_owned(),
            Value::Array(self.content.iter().map(Content::to_json).collect()),
        );
        if let Some(structured) = &self.structured {
            map.insert("structuredContent".to_owned(), structured.clone());
        }
        Value::Object(map)
    }
}

/// What a tool can return as a rich result: implement it for a type of
/// your own to choose its content blocks (like axum's `IntoResponse`).
/// Implemented for [`Content`], [`Image`], [`Audio`], [`Resource`],
/// [`ResourceLink`], a `Vec` of any of them and [`ToolResult`]. A type
/// that implements it is answered as content; every other
/// `T: Serialize` as JSON, as before.
///
/// ```
/// use atp_sdk::atp_tool;
/// use atp_sdk::content::{Content, IntoToolResult, ToolResult};
///
/// struct Weather { city: String, celsius: f64 }
///
/// impl IntoToolResult for Weather {
///     fn into_tool_result(self) -> ToolResult {
///         ToolResult::new([Content::text(format!("{}: {} °C", self.city, self.celsius))])
///     }
/// }
///
/// /// Today's weather.
/// #[atp_tool]
/// fn weather(city: String) -> Weather {
///     Weather { city, celsius: 21.5 }
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a rich tool result",
    note = "implement `atp_sdk::content::IntoToolResult` for it, or derive `serde::Serialize` to answer JSON"
)]
pub trait IntoToolResult {
    /// The content blocks (and structured data) the value is answered
    /// with.
    fn into_tool_result(self) -> ToolResult;
}

impl IntoToolResult for ToolResult {
    fn into_tool_result(self) -> ToolResult {
        self
    }
}

impl<T: Into<Content>> IntoToolResult for Vec<T> {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new(self)
    }
}

macro_rules! one_block {
    ($($ty:ident),*) => {$(
        impl IntoToolResult for $ty {
            fn into_tool_result(self) -> ToolResult {
                ToolResult::new([self])
            }
        }
    )*};
}

one_block!(Content, Image, Audio, Resource, ResourceLink);

/// The rich result as the dispatcher carries it: an error if its
/// structured data could not be written.
pub(crate) fn rich(value: impl IntoToolResult) -> Result<ToolResult, CallError> {
    let result = value.into_tool_result();
    match result.invalid {
        Some(err) => Err(CallError::InvalidOutput(err)),
        None => Ok(result),
    }
}

/// Standard base64, with padding (what MCP's `data` and `blob` hold).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        // RFC 4648's test vectors.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn every_block_has_mcps_shape() {
        let blob = Resource::blob("file:///a.bin", vec![0u8, 1], "application/octet-stream");
        assert_eq!(
            Content::from(blob).to_json(),
            json!({"type": "resource", "resource": {"uri": "file:///a.bin", "mimeType": "application/octet-stream", "blob": "AAE="}})
        );
        assert_eq!(
            Content::from(Audio::new(vec![1u8], "audio/wav")).to_json(),
            json!({"type": "audio", "data": "AQ==", "mimeType": "audio/wav"})
        );
        let link = ResourceLink::new("file:///r", "r")
            .with_title("R")
            .with_size(3);
        assert_eq!(
            Content::from(link).to_json(),
            json!({"type": "resource_link", "uri": "file:///r", "name": "r", "title": "R", "size": 3})
        );
    }

    #[test]
    fn structured_data_serde_cant_write_is_an_invalid_output() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let result = ToolResult::new([Content::text("x")]).with_structured(&map);
        assert!(matches!(rich(result), Err(CallError::InvalidOutput(_))));
    }
}
