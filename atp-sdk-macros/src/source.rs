//! The tool's source text: the platform's `source_code` and the input of
//! its `code_hash`.
//!
//! rustc gives the verbatim text of a token group (`(...)`, `{...}`,
//! `[...]`) through its span, so the text is rebuilt token tree by token
//! tree: groups verbatim, everything else as written. A change anywhere in
//! the attribute or the function changes the text, and so the hash.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// The source text of `#[atp_tool(<attr>)] <item>`.
pub(crate) fn source_text(attr: &TokenStream, item: &TokenStream) -> String {
    let mut out = String::from("#[atp_tool");
    if !attr.is_empty() {
        out.push('(');
        out.push_str(&tokens_text(attr));
        out.push(')');
    }
    out.push_str("]\n");
    out.push_str(&tokens_text(item));
    out
}

fn tokens_text(tokens: &TokenStream) -> String {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = String::new();
    let mut glue = false; // the previous token was joined to this one
    let mut i = 0;
    while i < trees.len() {
        let tree = &trees[i];
        // A doc comment arrives as `#` + `[doc = "..."]` whose bracket span
        // covers the comment itself: write the comment, on its own line.
        if let (TokenTree::Punct(p), Some(TokenTree::Group(g))) = (tree, trees.get(i + 1))
            && p.as_char() == '#'
            && g.delimiter() == Delimiter::Bracket
            && let Some(text) = g.span().source_text()
            && (text.starts_with("//") || text.starts_with("/*"))
        {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&text);
            out.push('\n');
            glue = true;
            i += 2;
            continue;
        }
        let text = tree
            .span()
            .source_text()
            .unwrap_or_else(|| tree.to_string());
        if !out.is_empty() && !glue {
            out.push(' ');
        }
        out.push_str(&text);
        glue = matches!(tree, TokenTree::Punct(p) if p.spacing() == Spacing::Joint || p.as_char() == '#');
        i += 1;
    }
    out
}
