//! Checks a function's signature against the attribute and works out the
//! tool's parameters, token argument, auth and return kind.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments, ReturnType, Signature, Type,
};

use crate::args::{ToolArgs, push};

/// Parameter names the platform reserves for the token it injects.
const RESERVED: &[&str] = &["auth_token", "access_token", "api_key"];

/// How an argument is filled in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// A JSON parameter absent or null is `Missing required parameter`;
    /// anything else is made by its `FromCall`.
    Required,
    /// `Option<T>`: absent or null is `None`.
    Optional,
    /// Left out of an explicit `required` list: a JSON parameter absent or
    /// null is `Default::default()`; anything else is made by its
    /// `FromCall`.
    Defaulted,
}

/// One argument of the function, in order. Whether it is a JSON parameter
/// or made by the toolkit (`AuthToken`, `Context`, `State<T>`, a user's
/// type) is the compiler's to say, through `FromCall`: the expansion asks.
pub(crate) struct Param {
    /// The argument's name (the binding without `r#`).
    pub(crate) name: String,
    /// Where the name is written.
    pub(crate) name_span: Span,
    /// The declared type.
    pub(crate) ty: Type,
    /// The type the JSON Schema describes (`T` for `Option<T>`).
    pub(crate) schema_ty: Type,
    pub(crate) kind: ParamKind,
    /// The `///` comment on the argument.
    pub(crate) doc: Option<String>,
    /// `required = [...]` lists it (at this literal).
    pub(crate) listed: Option<Span>,
    /// Its type is one no argument can have (a reference...), reported.
    pub(crate) unsupported: bool,
}

pub(crate) struct Auth {
    pub(crate) provider: String,
    pub(crate) kind: String,
    pub(crate) with: Option<String>,
}

/// Everything the expansion needs.
pub(crate) struct Tool {
    pub(crate) name: String,
    pub(crate) description: String,
    /// Every argument, in order.
    pub(crate) params: Vec<Param>,
    pub(crate) auth: Option<Auth>,
    pub(crate) is_async: bool,
    /// `inline`: a plain `fn` run in the call's task.
    pub(crate) inline: bool,
    /// Where the return type is written (for errors about it).
    pub(crate) returns: Span,
    /// The return type, if one is written.
    pub(crate) returns_ty: Option<Type>,
    /// `timeout = "..."` in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
    /// `scopes = [...]`.
    pub(crate) scopes: Vec<String>,
    /// `strict_args`: arguments read as sent.
    pub(crate) strict_args: bool,
    pub(crate) deny_unknown_fields: bool,
    /// `title = "..."`.
    pub(crate) title: Option<String>,
    /// `read_only`, `destructive`, `idempotent`, `open_world`, in order.
    pub(crate) hints: [Option<bool>; 4],
}

/// Analyses `func`, stripping the `///` comments from its parameters (they
/// become the parameters' descriptions). Errors are added to `errors`.
pub(crate) fn analyse(args: &ToolArgs, func: &mut ItemFn, errors: &mut Option<syn::Error>) -> Tool {
    let name = tool_name(args, &func.sig, errors);
    let description = match &args.description {
        Some(lit) => lit.value(),
        None => doc_text(&func.attrs).unwrap_or_default(),
    };
    check_signature(&func.sig, errors);
    if let (Some(span), Some(_)) = (args.inline, &func.sig.asyncness) {
        push(
            errors,
            syn::Error::new(
                span,
                "`inline` is for a plain `fn`: an `async fn` already runs in the call's task",
            ),
        );
    }
    let sig = &mut func.sig;
    let mut params = arguments(sig, errors);
    if let Some((_, names)) = &args.required {
        apply_required(names, &mut params, errors);
    }
    let auth = auth(args, errors);
    let returns = match &sig.output {
        ReturnType::Default => sig.paren_token.span.close(),
        ReturnType::Type(_, ty) => ty.span(),
    };

    Tool {
        name,
        description,
        params,
        auth,
        is_async: sig.asyncness.is_some(),
        inline: args.inline.is_some(),
        returns,
        returns_ty: match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        },
        timeout_ms: args.timeout.as_ref().map(|(_, millis)| *millis),
        scopes: args.scopes.iter().flatten().map(LitStr::value).collect(),
        strict_args: args.strict_args.is_some(),
        deny_unknown_fields: args.deny_unknown_fields.is_some(),
        title: args.title.as_ref().map(LitStr::value),
        hints: [
            args.read_only,
            args.destructive,
            args.idempotent,
            args.open_world,
        ],
    }
}

/// The tool's name: `name = "..."`, or the function's, checked against the
/// rule every provider takes.
fn tool_name(args: &ToolArgs, sig: &Signature, errors: &mut Option<syn::Error>) -> String {
    match &args.name {
        Some(lit) => {
            let value = lit.value();
            if !valid_tool_name(&value) {
                push(errors, syn::Error::new_spanned(lit, TOOL_NAME_RULE));
            }
            value
        }
        None => {
            let name = sig.ident.unraw().to_string();
            if !valid_tool_name(&name) {
                push(
                    errors,
                    syn::Error::new_spanned(
                        &sig.ident,
                        format!(
                            "`{name}` can't be a tool's name: {TOOL_NAME_RULE}; \
                             rename the function or give `#[atp_tool(name = \"...\")]`"
                        ),
                    ),
                );
            }
            name
        }
    }
}

/// What a tool function can't be: `unsafe`, `extern`, generic, variadic.
fn check_signature(sig: &Signature, errors: &mut Option<syn::Error>) {
    if !matches!(sig.safety, syn::Safety::Default) {
        push(
            errors,
            syn::Error::new(
                sig.fn_token.span,
                "an `#[atp_tool]` function can't be `unsafe`",
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        push(
            errors,
            syn::Error::new_spanned(abi, "an `#[atp_tool]` function can't have an `extern` ABI"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let mut message = "an `#[atp_tool]` function can't be generic: each parameter needs a concrete type for its JSON Schema".to_owned();
        if bounds_name_context(&sig.generics) {
            message.push_str(CONTEXT_CLASH);
        }
        push(errors, syn::Error::new_spanned(&sig.generics, message));
    }
    if let Some(variadic) = &sig.variadic {
        push(
            errors,
            syn::Error::new_spanned(variadic, "an `#[atp_tool]` function can't be variadic"),
        );
    }
}

/// The function's arguments, in order, with the `///` comments taken off
/// them (they become the parameters' descriptions).
fn arguments(sig: &mut Signature, errors: &mut Option<syn::Error>) -> Vec<Param> {
    let mut params = Vec::new();
    for input in sig.inputs.iter_mut() {
        let pat_type = match input {
            FnArg::Receiver(receiver) => {
                push(
                    errors,
                    syn::Error::new_spanned(
                        receiver.self_token,
                        "an `#[atp_tool]` function can't take `self`: make it a free function",
                    ),
                );
                continue;
            }
            FnArg::Typed(pat_type) => pat_type,
        };
        let doc = doc_text(&pat_type.attrs);
        pat_type.attrs.retain(|attr| !attr.path().is_ident("doc"));

        let ident = match &*pat_type.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                push(
                    errors,
                    syn::Error::new_spanned(
                        other,
                        "a tool parameter must be a plain name (`point: Point`), not a pattern: its name is the parameter's name",
                    ),
                );
                continue;
            }
        };
        let ty = &*pat_type.ty;
        let name = ident.unraw().to_string();
        let unsupported = unsupported_type(ty).map(|bad| push(errors, bad)).is_some();
        let (kind, schema_ty) = match option_inner(ty) {
            Some(inner) => (ParamKind::Optional, inner.clone()),
            None => (ParamKind::Required, ty.clone()),
        };
        // An `Option` is always a JSON parameter; a name the platform
        // reserves for the token can only be an argument the toolkit
        // makes (checked for the others in the expansion).
        if kind == ParamKind::Optional && RESERVED.contains(&name.as_str()) {
            push(
                errors,
                syn::Error::new_spanned(&ident, reserved_message(&name)),
            );
        }
        params.push(Param {
            name,
            name_span: ident.span(),
            ty: ty.clone(),
            schema_ty,
            kind,
            doc,
            listed: None,
            unsupported,
        });
    }
    params
}

/// `auth_provider` and what describes its token (`auth_type`, `auth_with`
/// need a provider).
fn auth(args: &ToolArgs, errors: &mut Option<syn::Error>) -> Option<Auth> {
    match &args.auth_provider {
        Some(provider) => Some(Auth {
            provider: provider.value(),
            kind: args
                .auth_type
                .as_ref()
                .map_or_else(|| "OAuth2".to_owned(), LitStr::value),
            with: args.auth_with.as_ref().map(LitStr::value),
        }),
        None => {
            for (key, lit) in [
                ("auth_type", &args.auth_type),
                ("auth_with", &args.auth_with),
            ] {
                if let Some(lit) = lit {
                    push(
                        errors,
                        syn::Error::new_spanned(
                            lit,
                            format!(
                                "`{key}` needs `auth_provider = \"...\"`: it describes the provider's token"
                            ),
                        ),
                    );
                }
            }
            None
        }
    }
}

/// `required = [...]` given: listed names are required, the others
/// (non-`Option`) take their default if they are JSON parameters.
fn apply_required(names: &[LitStr], params: &mut [Param], errors: &mut Option<syn::Error>) {
    let mut listed: Vec<String> = Vec::new();
    for lit in names {
        let name = lit.value();
        if listed.contains(&name) {
            push(
                errors,
                syn::Error::new_spanned(lit, format!("`{name}` is listed twice in `required`")),
            );
            continue;
        }
        listed.push(name.clone());
        match params.iter_mut().find(|p| p.name == name) {
            None => {
                let known = params
                    .iter()
                    .map(|p| format!("`{}`", p.name))
                    .collect::<Vec<_>>();
                let hint = if known.is_empty() {
                    "the function takes no arguments".to_owned()
                } else {
                    format!("its arguments are {}", known.join(", "))
                };
                push(
                    errors,
                    syn::Error::new_spanned(
                        lit,
                        format!(
                            "`{name}` in `required` is not a parameter of this function; {hint}"
                        ),
                    ),
                );
            }
            Some(param) if param.kind == ParamKind::Optional => push(
                errors,
                syn::Error::new_spanned(
                    lit,
                    format!(
                        "`{name}` is an `Option`, so it can't be required: drop the `Option` or leave it out of `required`"
                    ),
                ),
            ),
            Some(param) => param.listed = Some(lit.span()),
        }
    }
    for param in params.iter_mut() {
        if param.kind == ParamKind::Required && !listed.contains(&param.name) {
            param.kind = ParamKind::Defaulted;
        }
    }
}

/// Why a JSON parameter can't be named `name`.
pub(crate) fn reserved_message(name: &str) -> String {
    format!(
        "a tool parameter can't be named `{name}`: the platform injects the token; declare a parameter of type `atp_sdk::AuthToken` to receive it"
    )
}

/// Whether the platform reserves `name` for the token it injects.
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// Said where a `Context` bound suggests anyhow's trait was taken for the
/// SDK's type (rustc's advice for a trait in a type's place is a generic).
const CONTEXT_CLASH: &str = "; if `Context` is anyhow's trait (`use anyhow::Context;`), \
     import it unnamed, `use anyhow::Context as _;`, and take `ctx: atp_sdk::Context`";

/// Whether a bound names a trait `Context` (`T: Context`, `impl Context`).
fn is_context_bound(bound: &syn::TypeParamBound) -> bool {
    matches!(bound, syn::TypeParamBound::Trait(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Context"))
}

/// Whether a generic parameter or `where` bound names a trait `Context`.
fn bounds_name_context(generics: &syn::Generics) -> bool {
    let in_params = generics
        .params
        .iter()
        .any(|p| matches!(p, syn::GenericParam::Type(t) if t.bounds.iter().any(is_context_bound)));
    let in_where = generics.where_clause.as_ref().is_some_and(|w| {
        w.predicates.iter().any(
            |p| matches!(p, syn::WherePredicate::Type(t) if t.bounds.iter().any(is_context_bound)),
        )
    });
    in_params || in_where
}

/// A parameter type we can't turn into a tool argument, with why.
fn unsupported_type(ty: &Type) -> Option<syn::Error> {
    let message = match ty {
        Type::Reference(_) => {
            "a tool parameter can't be a reference: take an owned type (`String` for `&str`, `Vec<T>` for `&[T]`)"
        }
        Type::ImplTrait(bounds) if bounds.bounds.iter().any(is_context_bound) => {
            return Some(syn::Error::new_spanned(
                ty,
                format!(
                    "a tool parameter can't be `impl Trait`: use a concrete type{CONTEXT_CLASH}"
                ),
            ));
        }
        Type::ImplTrait(_) => "a tool parameter can't be `impl Trait`: use a concrete type",
        Type::Infer(_) => "a tool parameter needs a concrete type",
        Type::Paren(inner) => return unsupported_type(&inner.elem),
        Type::Group(inner) => return unsupported_type(&inner.elem),
        _ => return None,
    };
    Some(syn::Error::new_spanned(ty, message))
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// `T` when `ty` is `Option<T>` (or `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty)?;
    if seg.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The names OpenAI, Anthropic and Gemini all take:
/// `^[A-Za-z_][A-Za-z0-9_-]{0,63}$`.
const TOOL_NAME_RULE: &str = "a tool name must be 1 to 64 characters among `a-z A-Z 0-9 _ -`, \
     starting with a letter or `_` (the names OpenAI, Anthropic and Gemini all take)";

fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The text of the `///` comments among `attrs`, rustdoc-style: one
/// leading space removed from each line, surrounding blank lines trimmed.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            for line in s.value().lines() {
                lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
            }
        }
    }
    let text = lines.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
