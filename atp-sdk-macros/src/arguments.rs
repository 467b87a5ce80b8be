//! The function's arguments in the expansion: one `__ATP` const that asks
//! the compiler, once per argument type, whether it is a JSON parameter or
//! made by the toolkit (`FromCall`), and the checks that need its answer.
//!
//! Every use of an argument's type that could fail sits in that one const,
//! so a type that is neither is reported once, on its token.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::analyse::{self, Param, ParamKind, Tool};
use crate::expand::{option_str, respan};

/// `__ATP` (the `ArgDef`s and the `Take`s), `__ATP_PARAMS`,
/// `__ATP_STATES`, and the checks of each argument.
pub(crate) fn arguments(params: &[Param], has_auth: bool, p: &TokenStream) -> TokenStream {
    let elements: Vec<Vec<&syn::Type>> = params
        .iter()
        .map(|param| crate::inner::elements(&param.schema_ty))
        .collect();
    let take_types = params.iter().map(|param| {
        let ty = &param.ty;
        match param.kind {
            ParamKind::Defaulted => quote!(()),
            _ => quote!(#p::Take<#ty>),
        }
    });
    let takes = params.iter().zip(&elements).map(|(param, elements)| {
        let ty = &param.ty;
        let schema_ty = &param.schema_ty;
        let take = match param.kind {
            ParamKind::Required => quote_spanned!(ty.span()=>
                <#ty as #p::FromCall>::__from_argument as #p::Take<#ty>
            ),
            ParamKind::Optional => {
                quote_spanned!(ty.span()=> #p::optional::<#schema_ty> as #p::Take<#ty>)
            }
            ParamKind::Defaulted => quote!(()),
        };
        on_element(take, elements)
    });
    let defs = params
        .iter()
        .zip(&elements)
        .map(|(param, elements)| arg_def(param, elements, p));
    let checks = checks(params, has_auth);
    quote! {
        const __ATP: #p::Args<(#(#take_types,)*)> = #p::Args {
            defs: &[#(#defs),*],
            take: (#(#takes,)*),
        };
        const __ATP_PARAMS: [#p::ParamDef; #p::param_count(__ATP.defs)] =
            #p::params(__ATP.defs);
        const __ATP_STATES: [#p::StateDef; #p::state_count(__ATP.defs)] =
            #p::states(__ATP.defs);
        #(#checks)*
    }
}

/// The same arguments and checks alone, for a function the macro has
/// already found errors in: what only the compiler can say is reported
/// with them. Arguments of a type no argument can have are left out.
pub(crate) fn checks_only(tool: &Tool, p: &TokenStream) -> TokenStream {
    let params: Vec<Param> = tool
        .params
        .iter()
        .filter(|param| !param.unsupported)
        .map(|param| Param {
            name: param.name.clone(),
            name_span: param.name_span,
            ty: param.ty.clone(),
            schema_ty: param.schema_ty.clone(),
            kind: param.kind,
            doc: None,
            listed: param.listed,
            unsupported: false,
        })
        .collect();
    let arguments = arguments(&params, tool.auth.is_some(), p);
    quote! {
        #[allow(non_snake_case, dead_code, clippy::all, clippy::pedantic)]
        const _: () = {
            #arguments
        };
    }
}

/// How each argument is taken from the call, in `__atp_extract`.
pub(crate) fn extracts(params: &[Param], p: &TokenStream) -> Vec<TokenStream> {
    params
        .iter()
        .enumerate()
        .map(|(i, param)| {
            let ty = &param.ty;
            let name = &param.name;
            let index = syn::Index::from(i);
            match param.kind {
                // Left out of `required`: a JSON parameter takes its
                // default, anything else is made as always.
                ParamKind::Defaulted => quote_spanned!(ty.span()=>
                    <#ty as #p::Defaulted<{ __ATP.defs[#i].param.is_some() }>>::take(__atp_args, #name)?
                ),
                _ => quote!((__ATP.take.#index)(__atp_args, #name)?),
            }
        })
        .collect()
}

/// The `ArgDef` of one argument. An element type inside a container
/// (`Opaque` in `Vec<Opaque>`) is checked on its own first: its error has
/// the SDK's message on its token, and the container's, at the same span
/// with the same cause, is one rustc leaves out.
fn arg_def(param: &Param, elements: &[&syn::Type], p: &TokenStream) -> TokenStream {
    let name = &param.name;
    let ty = &param.ty;
    let schema_ty = &param.schema_ty;
    let description = option_str(param.doc.as_deref());
    let kind = match param.kind {
        ParamKind::Required => quote!(#p::ParamKind::Required),
        ParamKind::Optional => quote!(#p::ParamKind::Optional),
        ParamKind::Defaulted => quote!(#p::ParamKind::Defaulted),
    };
    let def = if param.kind == ParamKind::Optional {
        quote_spanned!(ty.span()=> #p::optional_arg::<#schema_ty>(#name, #description))
    } else {
        quote_spanned!(ty.span()=> #p::arg::<#ty>(#name, #description, #kind))
    };
    let checks = elements
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #p::check_value::<#ty>(); #p::check_schema::<#ty>();));
    on_element(quote!({ #(#checks)* #def }), elements)
}

/// `tokens` on the element's span when the type holds exactly one.
fn on_element(tokens: TokenStream, elements: &[&syn::Type]) -> TokenStream {
    match elements {
        [one] => respan(tokens, one.span()),
        _ => tokens,
    }
}

/// The checks that need the compiler's word on what each argument is,
/// each its own const (so each is reported), reading only `__ATP`: a name
/// reserved for the token given to a JSON parameter, a name in `required`
/// that the toolkit fills in, the token without an auth provider, two of
/// a kind a tool takes once.
fn checks(params: &[Param], has_auth: bool) -> Vec<TokenStream> {
    let mut checks = Vec::new();
    for (i, param) in params.iter().enumerate() {
        if param.kind == ParamKind::Optional {
            continue;
        }
        let ty = &param.ty;
        let name = &param.name;
        let span = ty.span();
        if analyse::is_reserved(name) {
            let message = analyse::reserved_message(name);
            checks.push(quote_spanned!(param.name_span=>
                const _: () = ::core::assert!(__ATP.defs[#i].param.is_none(), #message);
            ));
        }
        if let Some(lit) = param.listed {
            let message = format!(
                "`{name}` is filled in by the toolkit (its type implements `FromCall`), not a tool parameter: leave it out of `required`"
            );
            checks.push(quote_spanned!(lit=>
                const _: () = ::core::assert!(__ATP.defs[#i].param.is_some(), #message);
            ));
        }
        if !has_auth {
            let message = format!(
                "`{}` receives the request's token, so the tool needs `auth_provider = \"...\"` in `#[atp_tool(...)]`: only tools with an auth provider get a token",
                quote!(#ty).to_string().replace(' ', "")
            );
            checks.push(quote_spanned!(span=>
                const _: () = ::core::assert!(!__ATP.defs[#i].token, #message);
            ));
        }
        let spelled = quote!(#ty).to_string();
        let again = params[..i].iter().any(|earlier| {
            let earlier_ty = &earlier.ty;
            earlier.kind != ParamKind::Optional && quote!(#earlier_ty).to_string() == spelled
        });
        if again {
            checks.push(quote_spanned!(span=>
                const _: () = if let ::core::option::Option::Some(message) = __ATP.defs[#i].only_one {
                    ::core::panic!("{}", message)
                };
            ));
        }
    }
    checks
}
