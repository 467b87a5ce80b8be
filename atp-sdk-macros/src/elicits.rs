//! The types a tool's body asks the user for, `ctx.elicit::<T>(...)`, so
//! that `build()` can check their schemas before the first call.
//!
//! The registration is generated beside the function, not inside it: a
//! type the body declares or imports itself (`struct`, `enum`, `type`,
//! `use` anywhere in the body) can't be named there, so such a type is
//! left to the check made when it is asked for. So is one that mentions
//! `Self`, `impl` or the function's generics, and a call without the
//! turbofish (its type inferred).

use std::collections::HashSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::{ItemFn, Type};

/// Each `T` of `.elicit::<T>(` in `func`'s body that can be named beside
/// the function, once.
pub(crate) fn elicited_types(func: &ItemFn) -> Vec<Type> {
    let block = &func.block;
    let body = quote::quote!(#block);
    let mut local: HashSet<String> = func
        .sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(ty) => Some(ty.ident.to_string()),
            _ => None,
        })
        .collect();
    local.extend(["Self".to_owned(), "impl".to_owned(), "_".to_owned()]);
    declared_names(body.clone(), &mut local);
    let mut found: Vec<Type> = Vec::new();
    let mut seen = HashSet::new();
    turbofish_types(body, &mut |tokens| {
        if mentions(&tokens, &local) {
            return;
        }
        if let Ok(ty) = syn::parse2::<Type>(tokens.clone())
            && seen.insert(tokens.to_string())
        {
            found.push(ty);
        }
    });
    found
}

/// Calls `each` with the tokens of `T` in every `. elicit :: < T >`.
fn turbofish_types(tokens: TokenStream, each: &mut impl FnMut(TokenStream)) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        if let TokenTree::Group(group) = &trees[i] {
            turbofish_types(group.stream(), each);
        }
        if is_punct(trees.get(i), '.')
            && matches!(trees.get(i + 1), Some(TokenTree::Ident(id)) if id == "elicit")
            && is_punct(trees.get(i + 2), ':')
            && is_punct(trees.get(i + 3), ':')
            && is_punct(trees.get(i + 4), '<')
        {
            let mut depth = 1;
            let mut j = i + 5;
            while j < trees.len() {
                match &trees[j] {
                    TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
                    TokenTree::Punct(p) if p.as_char() == '>' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if depth == 0 {
                each(trees[i + 5..j].iter().cloned().collect());
                i = j;
            }
        }
        i += 1;
    }
}

/// Adds the names `tokens` declare or import: the identifier after
/// `struct`, `enum`, `union`, `type`, and every identifier of a `use`.
fn declared_names(tokens: TokenStream, names: &mut HashSet<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut in_use = false;
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) if in_use && group.delimiter() == Delimiter::Brace => {
                all_idents(group.stream(), names);
            }
            TokenTree::Group(group) => declared_names(group.stream(), names),
            TokenTree::Ident(id) if id == "use" => in_use = true,
            TokenTree::Ident(id) if in_use => {
                names.insert(id.to_string());
            }
            TokenTree::Ident(id)
                if ["struct", "enum", "union", "type"].contains(&&*id.to_string()) =>
            {
                if let Some(TokenTree::Ident(name)) = trees.get(i + 1) {
                    names.insert(name.to_string());
                }
            }
            TokenTree::Punct(p) if p.as_char() == ';' => in_use = false,
            _ => {}
        }
    }
}

fn all_idents(tokens: TokenStream, names: &mut HashSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(id) => {
                names.insert(id.to_string());
            }
            TokenTree::Group(group) => all_idents(group.stream(), names),
            _ => {}
        }
    }
}

/// Whether any identifier in `tokens` is one of `names`.
fn mentions(tokens: &TokenStream, names: &HashSet<String>) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(id) => names.contains(&id.to_string()),
        TokenTree::Group(group) => mentions(&group.stream(), names),
        _ => false,
    })
}

fn is_punct(tree: Option<&TokenTree>, c: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(func: TokenStream) -> Vec<String> {
        let func: ItemFn = syn::parse2(func).unwrap();
        elicited_types(&func)
            .iter()
            .map(|ty| quote::quote!(#ty).to_string())
            .collect()
    }

    #[test]
    fn the_turbofish_types_of_elicit_are_found_once() {
        let found = types(quote::quote! {
            async fn f(ctx: Context) {
                let a = ctx.elicit::<Confirm>("a").await;
                if x { ctx.elicit::<forms::Pick<u8>>("b").await; }
                ctx.elicit::<Confirm>("again").await;
                other.elicit("no turbofish").await;
                ctx.sample::<Nope>();
            }
        });
        assert_eq!(found, ["Confirm", "forms :: Pick < u8 >"]);
    }

    #[test]
    fn a_type_the_body_declares_or_imports_is_left_out() {
        let found = types(quote::quote! {
            async fn f<G>(ctx: Context) {
                #[derive(Deserialize)]
                struct Local { a: u8 }
                use forms::{Imported, other::Renamed as Alias};
                ctx.elicit::<Local>("a").await;
                ctx.elicit::<Imported>("b").await;
                ctx.elicit::<Alias>("c").await;
                ctx.elicit::<Wrap<G>>("d").await;
                ctx.elicit::<Outside>("e").await;
            }
        });
        assert_eq!(found, ["Outside"]);
    }
}
