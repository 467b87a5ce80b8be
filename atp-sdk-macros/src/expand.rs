//! Writes the registration: the user's function unchanged (but for the
//! parameter comments), then one `const _: () = { ... }` block holding the
//! argument extraction and a single `inventory::submit!` of a
//! const-constructible `ToolDef`. Everything else lives in the runtime.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::analyse::{self, Arg, ParamKind, Returns, Tool};
use crate::args::{ToolArgs, push};
use crate::source;

pub(crate) fn atp_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let (args, mut errors) = ToolArgs::parse(attr.clone());
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                first_token_span(&item),
                "`#[atp_tool]` goes on a free `fn` or `async fn` at module level",
            );
            let err = err.to_compile_error();
            return quote! { #err #item };
        }
    };
    let source = source::source_text(&attr, &item);
    let tool = analyse::analyse(&args, &mut func, &mut errors);
    if let Some(errors) = errors {
        let errors = errors.to_compile_error();
        return quote! { #func #errors };
    }
    let registration = registration(&args, &func, &tool, &source);
    quote! { #func #registration }
}

fn first_token_span(item: &TokenStream) -> Span {
    item.clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |tt| tt.span())
}

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

    // Extraction of each parameter, spanned on its type so a type that
    // can't be deserialized (or has no `Default`) is reported there.
    let bindings: Vec<_> = (0..tool.params.len())
        .map(|i| format_ident!("__atp_p{}", i))
        .collect();
    let extracts = tool.params.iter().map(|param| {
        let ty = &param.ty;
        let schema_ty = &param.schema_ty;
        let name = &param.name;
        match param.kind {
            ParamKind::Required => {
                quote_spanned!(ty.span()=> __atp_args.required::<#ty>(#name)?)
            }
            ParamKind::Optional => {
                quote_spanned!(ty.span()=> __atp_args.optional::<#schema_ty>(#name)?)
            }
            ParamKind::Defaulted => {
                quote_spanned!(ty.span()=> __atp_args.or_default::<#ty>(#name)?)
            }
        }
    });
    let call_args = tool.args.iter().map(|arg| match arg {
        Arg::Param(i) => {
            let b = &bindings[*i];
            quote!(#b)
        }
        Arg::Token(span) => quote_spanned!(*span=> __atp_args.take_token()?),
    });
    let output_fn = match tool.returns {
        Returns::Plain(span) => quote_spanned!(span=> #p::output),
        Returns::Result(span) => quote_spanned!(span=> #p::output_result),
    };
    let bindings_types = tool.params.iter().map(|param| &param.ty);

    let call = if tool.is_async {
        quote! {
            fn __atp_call(mut __atp_args: #p::CallArgs) -> #p::CallFuture {
                let (#(#bindings,)*) = match __atp_extract(&mut __atp_args) {
                    ::core::result::Result::Ok(values) => values,
                    ::core::result::Result::Err(err) => return #p::ready(::core::result::Result::Err(err)),
                };
                #p::boxed(async move {
                    let mut __atp_args = __atp_args;
                    let __atp_value = #fn_ident(#(#call_args),*).await;
                    #output_fn(__atp_value)
                })
            }
        }
    } else {
        quote! {
            fn __atp_call(mut __atp_args: #p::CallArgs) -> #p::CallResult {
                let (#(#bindings,)*) = __atp_extract(&mut __atp_args)?;
                let __atp_value = #fn_ident(#(#call_args),*);
                #output_fn(__atp_value)
            }
        }
    };
    let handler = if tool.is_async {
        quote!(#p::Handler::Async(__atp_call))
    } else {
        quote!(#p::Handler::Blocking(__atp_call))
    };

    let params = tool.params.iter().map(|param| {
        let name = &param.name;
        let schema_ty = &param.schema_ty;
        let description = option_str(param.doc.as_deref());
        let kind = match param.kind {
            ParamKind::Required => quote!(#p::ParamKind::Required),
            ParamKind::Optional => quote!(#p::ParamKind::Optional),
            ParamKind::Defaulted => quote!(#p::ParamKind::Defaulted),
        };
        let schema = quote_spanned!(param.ty.span()=> #p::schema_of::<#schema_ty>);
        quote! {
            #p::ParamDef {
                name: #name,
                description: #description,
                kind: #kind,
                schema: #schema,
            }
        }
    });
    let auth = match &tool.auth {
        Some(auth) => {
            let provider = &auth.provider;
            let kind = &auth.kind;
            let with = option_str(auth.with.as_deref());
            quote!(::core::option::Option::Some(#p::AuthDef { provider: #provider, kind: #kind, with: #with }))
        }
        None => quote!(::core::option::Option::None),
    };
    let name = &tool.name;
    let description = &tool.description;
    let rust_name = fn_ident.unraw().to_string();

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

            fn __atp_extract(
                __atp_args: &mut #p::CallArgs,
            ) -> ::core::result::Result<(#(#bindings_types,)*), #p::CallError> {
                ::core::result::Result::Ok((#(#extracts,)*))
            }

            #call

            #p::inventory::submit! {
                #p::ToolDef {
                    name: #name,
                    rust_name: #rust_name,
                    description: #description,
                    params: &[#(#params),*],
                    auth: #auth,
                    source: #source,
                    file: ::core::file!(),
                    line: ::core::line!(),
                    module_path: ::core::module_path!(),
                    handler: #handler,
                }
            }
        };
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}
