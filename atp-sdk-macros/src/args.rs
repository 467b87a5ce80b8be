//! Parsing of the attribute's keys: `#[atp_tool(name = "...", required = [...], ...)]`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{LitStr, Token};

/// The keys `#[atp_tool(...)]` accepts, in the order the docs list them.
pub(crate) const VALID_KEYS: &str = "`name`, `description`, `title`, `required`, `auth_provider`, `auth_type`, `auth_with`, `timeout`, `scopes`, `strict_args`, `deny_unknown_fields`, `inline`, `read_only`, `destructive`, `idempotent`, `open_world`, `crate`";

/// The parsed attribute. Every key is optional; each value keeps its
/// literal so errors can point at it.
#[derive(Default)]
pub(crate) struct ToolArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) required: Option<(Span, Vec<LitStr>)>,
    pub(crate) auth_provider: Option<LitStr>,
    pub(crate) auth_type: Option<LitStr>,
    pub(crate) auth_with: Option<LitStr>,
    /// `timeout = "30s"`: the literal and the limit in milliseconds.
    pub(crate) timeout: Option<(LitStr, u64)>,
    /// `scopes = ["tickets:write", ...]`: the OAuth scopes an MCP caller's
    /// token needs for this tool.
    pub(crate) scopes: Option<Vec<LitStr>>,
    /// `strict_args`: arguments read as sent, without lenient conversions.
    pub(crate) strict_args: Option<Span>,
    pub(crate) deny_unknown_fields: Option<Span>,
    /// `inline`: a plain `fn` run in the call's task, not on a worker.
    pub(crate) inline: Option<Span>,
    /// `title = "..."`: the name clients show (MCP's `title`).
    pub(crate) title: Option<LitStr>,
    /// The hints of MCP's tool annotations: `read_only`, `destructive`,
    /// `idempotent`, `open_world`, each a flag (`true`) or `= bool`.
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    pub(crate) krate: Option<syn::Path>,
}

impl ToolArgs {
    /// Parses the attribute's tokens, collecting every error instead of
    /// stopping at the first.
    pub(crate) fn parse(tokens: TokenStream) -> (Self, Option<syn::Error>) {
        let mut args = ToolArgs::default();
        let mut errors: Option<syn::Error> = None;
        let parser = syn::meta::parser(|meta| {
            if let Err(err) = args.parse_key(&meta) {
                push(&mut errors, err);
                // Skip the rest of this key's value so the next key parses.
                if meta.input.peek(Token![=]) {
                    let _ = meta.input.parse::<Token![=]>();
                    let _ = meta.input.parse::<syn::Expr>();
                }
            }
            Ok(())
        });
        if let Err(err) = syn::parse::Parser::parse2(parser, tokens) {
            push(&mut errors, err);
        }
        (args, errors)
    }

    /// Parses one `key = value` (or flag) of the attribute into its slot.
    fn parse_key(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let path = &meta.path;
        let key = key_name(path);
        let slot = match key.as_str() {
            "name" => &mut self.name,
            "description" => &mut self.description,
            "title" => &mut self.title,
            "read_only" => return parse_hint(meta, "read_only", &mut self.read_only),
            "destructive" => return parse_hint(meta, "destructive", &mut self.destructive),
            "idempotent" => return parse_hint(meta, "idempotent", &mut self.idempotent),
            "open_world" => return parse_hint(meta, "open_world", &mut self.open_world),
            "auth_provider" => &mut self.auth_provider,
            "auth_type" => &mut self.auth_type,
            "auth_with" => &mut self.auth_with,
            "required" => return self.parse_required(meta),
            "scopes" => return self.parse_scopes(meta),
            "timeout" => return self.parse_timeout(meta),
            "strict_args" => return parse_flag(meta, "strict_args", &mut self.strict_args),
            "deny_unknown_fields" => {
                return parse_flag(meta, "deny_unknown_fields", &mut self.deny_unknown_fields);
            }
            "inline" => return parse_flag(meta, "inline", &mut self.inline),
            "crate" => return self.parse_crate(meta),
            _ => {
                return Err(syn::Error::new_spanned(
                    path,
                    format!("unknown `atp_tool` key; the valid keys are {VALID_KEYS}"),
                ));
            }
        };
        if slot.is_some() {
            return Err(duplicate(meta, &key));
        }
        let lit: LitStr = meta.value()?.parse()?;
        *slot = Some(lit);
        Ok(())
    }

    /// Parses `required = ["name", ...]`.
    fn parse_required(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if self.required.is_some() {
            return Err(duplicate(meta, "required"));
        }
        let (span, names, errors) = string_list(
            meta,
            "`required` lists parameter names as strings: `required = [\"name\", ...]`",
        )?;
        self.required = Some((span, names));
        errors.map_or(Ok(()), Err)
    }

    /// Parses `scopes = ["tickets:write", ...]`, each a valid OAuth scope
    /// listed once.
    fn parse_scopes(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if self.scopes.is_some() {
            return Err(duplicate(meta, "scopes"));
        }
        let (_, scopes, mut errors) = string_list(
            meta,
            "`scopes` lists OAuth scopes as strings: `scopes = [\"tickets:write\", ...]`",
        )?;
        check_scopes(&scopes, &mut errors);
        if let Some(errors) = errors {
            return Err(errors);
        }
        self.scopes = Some(scopes);
        Ok(())
    }

    /// Parses `timeout = "30s"` into the literal and its milliseconds.
    fn parse_timeout(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if self.timeout.is_some() {
            return Err(duplicate(meta, "timeout"));
        }
        let lit: LitStr = meta.value()?.parse()?;
        let millis = parse_duration(&lit.value()).ok_or_else(|| {
            syn::Error::new_spanned(
                &lit,
                "`timeout` is a positive whole number with a unit: \"500ms\", \"30s\", \"5m\" or \"1h\"",
            )
        })?;
        self.timeout = Some((lit, millis));
        Ok(())
    }

    /// Parses `crate = "path::to::atp_sdk"`.
    fn parse_crate(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if self.krate.is_some() {
            return Err(duplicate(meta, "crate"));
        }
        let lit: LitStr = meta.value()?.parse()?;
        self.krate = Some(lit.parse()?);
        Ok(())
    }
}

/// Parses a hint: a flag (`read_only`, true) or `read_only = false`.
fn parse_hint(meta: &ParseNestedMeta<'_>, key: &str, slot: &mut Option<bool>) -> syn::Result<()> {
    if slot.is_some() {
        return Err(duplicate(meta, key));
    }
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        *slot = Some(true);
        return Ok(());
    }
    let value: syn::LitBool = meta.value()?.parse().map_err(|err| {
        syn::Error::new(
            err.span(),
            format!("`{key}` is a flag, or `{key} = true` / `{key} = false`"),
        )
    })?;
    *slot = Some(value.value);
    Ok(())
}

/// A key's name: its identifier, or `crate` (a keyword, so a path
/// segment); empty for any other path.
fn key_name(path: &syn::Path) -> String {
    path.get_ident()
        .map(ToString::to_string)
        .or_else(|| {
            // `crate` is a keyword: it parses as a path segment.
            (path.segments.len() == 1 && path.leading_colon.is_none())
                .then(|| path.segments[0].ident.to_string())
        })
        .unwrap_or_default()
}

/// Adds an error to `errors` for each scope that is not one word of
/// visible ASCII, or is listed before.
fn check_scopes(scopes: &[LitStr], errors: &mut Option<syn::Error>) {
    for (i, scope) in scopes.iter().enumerate() {
        let text = scope.value();
        // RFC 6749 §3.3: visible ASCII but space, `"` and `\`.
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            push(
                errors,
                syn::Error::new_spanned(
                    scope,
                    "an OAuth scope is one word of visible ASCII (no spaces, quotes or backslashes), e.g. \"tickets:write\"",
                ),
            );
        } else if scopes[..i].iter().any(|s| s.value() == text) {
            push(
                errors,
                syn::Error::new_spanned(scope, format!("`{text}` is listed twice in `scopes`")),
            );
        }
    }
}

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"` in milliseconds; `None` for
/// anything else, zero included.
fn parse_duration(text: &str) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&millis| millis > 0)
}

/// A key's value that is a list of string literals (`["a", "b"]`): the
/// span of its brackets and the strings; every item that is not a string
/// is an error, returned beside them (`hint` says what the list holds).
fn string_list(
    meta: &ParseNestedMeta<'_>,
    hint: &str,
) -> syn::Result<(Span, Vec<LitStr>, Option<syn::Error>)> {
    let value = meta.value()?;
    let content;
    let bracket = syn::bracketed!(content in value);
    let items = Punctuated::<syn::Expr, Token![,]>::parse_terminated(&content)?;
    let mut strings = Vec::with_capacity(items.len());
    let mut errors = None;
    for item in items {
        match item {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => strings.push(text),
            other => push(&mut errors, syn::Error::new_spanned(&other, hint)),
        }
    }
    Ok((bracket.span.join(), strings, errors))
}

fn duplicate(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Error {
    syn::Error::new_spanned(
        &meta.path,
        format!("the `{key}` key is given more than once"),
    )
}

/// Adds an error to an accumulated one.
pub(crate) fn push(errors: &mut Option<syn::Error>, err: syn::Error) {
    match errors {
        Some(existing) => existing.combine(err),
        None => *errors = Some(err),
    }
}

/// Parses a flag that takes no value (`strict_args`), once.
fn parse_flag(meta: &ParseNestedMeta<'_>, key: &str, slot: &mut Option<Span>) -> syn::Result<()> {
    let path = &meta.path;
    if slot.is_some() {
        return Err(duplicate(meta, key));
    }
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        return Err(syn::Error::new_spanned(
            path,
            format!("`{key}` is a flag and takes no value: `#[atp_tool({key})]`"),
        ));
    }
    *slot = Some(path.segments[0].ident.span());
    Ok(())
}
