//! Writes the registration: the user's function unchanged (but for the
//! parameter comments), then one `const _: () = { ... }` block holding the
//! argument extraction and a single `inventory::submit!` of a
//! const-constructible `ToolDef`. Everything else lives in the runtime.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::analyse::{self, Tool};
use crate::args::{ToolArgs, push};
use crate::{arguments, source};

pub(crate) fn atp_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (args, mut errors) = ToolArgs::parse(attr.clone());
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let (span, kind) = item_keyword(&item);
            let err = syn::Error::new(
                span,
                format!(
                    "`#[atp_tool]` goes on a free `fn` or `async fn` at module level, not on {kind}"
                ),
            );
            let err = err.to_compile_error();
            return quote! { #err #item };
        }
    };
    let source = source::source_text(&attr, &item);
    let tool = analyse::analyse(&args, &mut func, &mut errors);
    if let Some(errors) = errors {
        // What the compiler must say (a name reserved for the token, the
        // token without an auth provider...) is reported with the rest.
        let krate = args
            .krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::atp_sdk));
        // A method (`self`) sits in an impl block, where a `const _` can't.
        let checks = match func.sig.receiver() {
            Some(_) => TokenStream::new(),
            None => arguments::checks_only(&tool, &quote!(#krate::__private)),
        };
        let errors = errors.to_compile_error();
        return quote! { #func #errors #checks };
    }
    let registration = registration(&args, &func, &tool, &source);
    quote! { #func #registration }
}

/// The keyword of an item that is not a function (`struct`, `impl`, ...),
/// past its attributes and visibility, with a phrase naming it.
fn item_keyword(item: &TokenStream) -> (Span, String) {
    let mut trees = item.clone().into_iter().peekable();
    while let Some(tree) = trees.next() {
        match &tree {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                trees.next(); // the attribute's brackets
            }
            proc_macro2::TokenTree::Ident(ident) if ident == "pub" => {
                if matches!(trees.peek(), Some(proc_macro2::TokenTree::Group(_))) {
                    trees.next(); // pub(crate)
                }
            }
            proc_macro2::TokenTree::Ident(ident) => {
                let kind = match ident.to_string().as_str() {
                    "struct" => "a struct".to_owned(),
                    "enum" => "an enum".to_owned(),
                    "impl" => "an impl block".to_owned(),
                    "mod" => "a module".to_owned(),
                    "trait" => "a trait".to_owned(),
                    "const" | "static" => format!("a `{ident}`"),
                    "type" => "a type alias".to_owned(),
                    "use" => "a `use`".to_owned(),
                    other => format!("`{other}`"),
                };
                return (ident.span(), kind);
            }
            other => return (other.span(), "this item".to_owned()),
        }
    }
    (Span::call_site(), "nothing".to_owned())
}

/// The registration of a checked tool: its arguments, `__atp_extract`,
/// `__atp_call` and the `ToolDef`, in one `const _: () = { ... }` block.
fn registration(args: &ToolArgs, func: &ItemFn, tool: &Tool, source: &str) -> TokenStream {
    let krate = args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::atp_sdk));
    let p = quote!(#krate::__private);
    let fn_ident = &func.sig.ident;

    // A module-level marker that the block below names through `self::`:
    // inside a function body the marker is not in the module, so the
    // lookup fails and says where the attribute must go.
    let marker = format_ident!(
        "__atp_tool_must_be_declared_at_module_scope__{}",
        fn_ident.unraw(),
        span = fn_ident.span()
    );

    let arguments = arguments::arguments(&tool.params, tool.auth.is_some(), &p);
    let extract = extract_fn(tool, &p);
    let call = call_fn(tool, fn_ident, &p);
    let elicits = crate::elicits::elicited_types(func);
    let tool_def = tool_def(tool, fn_ident, source, &elicits, &p);
    let mut errors = None;
    if tool.params.len() > 64 {
        push(
            &mut errors,
            syn::Error::new_spanned(
                &func.sig.inputs,
                "an `#[atp_tool]` takes at most 64 parameters",
            ),
        );
    }
    let errors = errors.map(|e| e.to_compile_error());

    quote! {
        #errors

        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #marker: () = ();

        #[allow(non_snake_case, unused_mut, unused_variables, clippy::all, clippy::pedantic)]
        const _: () = {
            let () = self::#marker;

            #[allow(unused_imports)]
            use #p::{ContentSchema as _, JsonTag as _, NoSchema as _, PlainTag as _, ResultTag as _, RichTag as _, TypedSchema as _};

            #arguments

            #extract

            #call

            #p::inventory::submit! { #tool_def }
        };
    }
}

/// `__atp_extract`: every argument taken from the call, in order.
fn extract_fn(tool: &Tool, p: &TokenStream) -> TokenStream {
    let extracts = arguments::extracts(&tool.params, p);
    let types = tool.params.iter().map(|param| &param.ty);
    quote! {
        fn __atp_extract(
            __atp_args: &mut #p::CallArgs,
        ) -> ::core::result::Result<(#(#types,)*), #p::CallError> {
            ::core::result::Result::Ok((#(#extracts,)*))
        }
    }
}

/// `__atp_call`: the arguments extracted, the user's function called (a
/// plain `fn` on the caller's thread, an `async fn` as a boxed future),
/// its value converted to a `CallResult`.
fn call_fn(tool: &Tool, fn_ident: &syn::Ident, p: &TokenStream) -> TokenStream {
    let bindings: Vec<_> = (0..tool.params.len())
        .map(|i| format_ident!("__atp_p{}", i))
        .collect();
    let output_elements = tool
        .returns_ty
        .as_ref()
        .map(|ty| crate::inner::elements(crate::inner::ok_type(ty)))
        .unwrap_or_default();
    let output_span = match output_elements.as_slice() {
        [one] => one.span(),
        _ => tool.returns,
    };
    let output_checks: Vec<TokenStream> = output_elements
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #p::check_output::<#ty>();))
        .collect();
    // The conversion of the return value, decided by its type (a `Result`
    // under any name answers `{"error": ...}`; content is content, any
    // other value JSON), every token spanned on the return type, so a type
    // that can't be returned is reported there.
    let output = respan(
        quote!({
            let __atp_out = #p::Out(__atp_value);
            match (&__atp_out).__atp_kind().split(__atp_out) {
                ::core::result::Result::Ok(__atp_ok) => (&__atp_ok).__atp_value().output(__atp_ok),
                ::core::result::Result::Err(err) => ::core::result::Result::Err(err),
            }
        }),
        output_span,
    );
    let output_schema = output_schema_fn(tool, p);
    if tool.is_async {
        quote! {
            #output_schema

            fn __atp_call(mut __atp_args: #p::CallArgs) -> #p::CallFuture {
                #(#output_checks)*
                let (#(#bindings,)*) = match __atp_extract(&mut __atp_args) {
                    ::core::result::Result::Ok(values) => values,
                    ::core::result::Result::Err(err) => return #p::ready(::core::result::Result::Err(err)),
                };
                #p::boxed(async move {
                    let __atp_value = #fn_ident(#(#bindings),*).await;
                    #output
                })
            }
        }
    } else {
        quote! {
            #output_schema

            fn __atp_call(mut __atp_args: #p::CallArgs) -> #p::CallResult {
                #(#output_checks)*
                let (#(#bindings,)*) = __atp_extract(&mut __atp_args)?;
                let __atp_value = #fn_ident(#(#bindings),*);
                #output
            }
        }
    }
}

/// `__atp_output_schema`: the JSON Schema of what the tool answers, when
/// its return type (`Ok`'s, for a `Result`) is JSON with a schema — the
/// compiler decides, as for the value. None for a type the expansion can't
/// name (`impl Trait`).
fn output_schema_fn(tool: &Tool, p: &TokenStream) -> TokenStream {
    let returns = match &tool.returns_ty {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let body = if names_impl_trait(returns.clone()) {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            let __atp_probe = #p::Probe::<#returns>::new();
            let __atp_ok = (&__atp_probe).__atp_kind().ok(__atp_probe);
            (&&__atp_ok).__atp_output_schema()
        }
    };
    quote! {
        fn __atp_output_schema() -> ::core::option::Option<#p::serde_json::Value> {
            #body
        }
    }
}

/// Whether `tokens` hold an `impl Trait`.
fn names_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => names_impl_trait(group.stream()),
        _ => false,
    })
}

/// The const `ToolDef` submitted to `inventory`.
fn tool_def(
    tool: &Tool,
    fn_ident: &syn::Ident,
    source: &str,
    elicits: &[syn::Type],
    p: &TokenStream,
) -> TokenStream {
    let handler = if tool.is_async {
        quote!(#p::Handler::Async(__atp_call))
    } else if tool.inline {
        quote!(#p::Handler::Inline(__atp_call))
    } else {
        quote!(#p::Handler::Blocking(__atp_call))
    };
    let auth = match &tool.auth {
        Some(auth) => {
            let provider = &auth.provider;
            let kind = &auth.kind;
            let with = option_str(auth.with.as_deref());
            quote!(::core::option::Option::Some(#p::AuthDef { provider: #provider, kind: #kind, with: #with }))
        }
        None => quote!(::core::option::Option::None),
    };
    let timeout = match tool.timeout_ms {
        Some(millis) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#millis)))
        }
        None => quote!(::core::option::Option::None),
    };
    let scopes = &tool.scopes;
    let strict_args = tool.strict_args;
    let deny_unknown_fields = tool.deny_unknown_fields;
    let name = &tool.name;
    let description = &tool.description;
    let rust_name = fn_ident.unraw().to_string();
    let title = option_str(tool.title.as_deref());
    // Spanned on the type in the body, where a type without a schema is
    // reported.
    let elicits = elicits.iter().map(|ty| {
        let span = syn::spanned::Spanned::span(ty);
        respan(
            quote!(#p::ElicitDef {
                type_name: ::core::any::type_name::<#ty>,
                schema: #p::elicit_schema::<#ty>,
            }),
            span,
        )
    });
    let [read_only, destructive, idempotent, open_world] = tool.hints.map(|hint| match hint {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    });

    quote! {
        #p::ToolDef {
            name: #name,
            rust_name: #rust_name,
            description: #description,
            params: &__ATP_PARAMS,
            auth: #auth,
            source: #source,
            file: ::core::file!(),
            line: ::core::line!(),
            module_path: ::core::module_path!(),
            timeout: #timeout,
            scopes: &[#(#scopes),*],
            handler: #handler,
            context: #p::takes_context(__ATP.defs),
            strict_args: #strict_args,
            deny_unknown_fields: #deny_unknown_fields,
            states: &__ATP_STATES,
            title: #title,
            output_schema: __atp_output_schema,
            elicits: &[#(#elicits),*],
            hints: #p::ToolHints {
                read_only: #read_only,
                destructive: #destructive,
                idempotent: #idempotent,
                open_world: #open_world,
            },
        }
    }
}

/// `tokens` with every span set to `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

pub(crate) fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}
