//! The tool's source text: the platform's `source_code` and the input of
//! its `code_hash`.
//!
//! The function is written as it is in the file: rustc gives each token's
//! verbatim text (a group's — `(...)`, `{...}`, `[...]` — with everything
//! inside it) and where it starts and ends, so the spaces and line breaks
//! between tokens are put back as they were, indentation relative to the
//! function's first line. Tokens with no place in a file (made by another
//! macro) are joined with single spaces instead. A change anywhere in the
//! attribute or the function changes the text, and so the hash.

use proc_macro2::{Delimiter, LineColumn, Spacing, Span, TokenStream, TokenTree};

/// The source text of `#[atp_tool(<attr>)] <item>`: the item's own
/// attributes (its doc comment) first, as they usually are written, then
/// the `#[atp_tool]` line, then the function.
pub(crate) fn source_text(attr: &TokenStream, item: &TokenStream) -> String {
    let mut attribute = String::from("#[atp_tool");
    if !attr.is_empty() {
        attribute.push('(');
        attribute.push_str(&tokens_text(&attr.clone().into_iter().collect::<Vec<_>>()));
        attribute.push(')');
    }
    attribute.push(']');
    let trees: Vec<TokenTree> = item.clone().into_iter().collect();
    // The outer attributes: `#` and a `[...]`, pairs.
    let mut split = 0;
    while let (Some(TokenTree::Punct(p)), Some(TokenTree::Group(g))) =
        (trees.get(split), trees.get(split + 1))
    {
        if p.as_char() != '#' || g.delimiter() != Delimiter::Bracket {
            break;
        }
        split += 2;
    }
    let mut out = tokens_text(&trees[..split]);
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&attribute);
    out.push('\n');
    out.push_str(&tokens_text(&trees[split..]));
    out
}

/// Where a span starts and ends, when rustc knows (line 0: it does not).
fn location(span: Span) -> Option<(LineColumn, LineColumn)> {
    let (start, end) = (span.start(), span.end());
    (start.line > 0 && end.line > 0).then_some((start, end))
}

/// Writes token trees as text, each separated from the one before as in
/// the source.
struct Writer {
    out: String,
    /// Where the token written last ends.
    last_end: Option<LineColumn>,
    /// The column of the first token: the indentation lines keep is
    /// relative to it.
    base: Option<usize>,
    /// Whether the token written last joins the next one (the fallback
    /// spacing, without locations).
    glue: bool,
}

impl Writer {
    fn write(&mut self, text: &str, span: Span, glue_next: bool) {
        let place = location(span);
        match (place, self.last_end) {
            (Some((start, _)), Some(last))
                if (start.line, start.column) >= (last.line, last.column) =>
            {
                if start.line == last.line {
                    self.out.push_str(&" ".repeat(start.column - last.column));
                } else {
                    self.out.push_str(&"\n".repeat(start.line - last.line));
                    let base = self.base.unwrap_or(0);
                    self.out
                        .push_str(&" ".repeat(start.column.saturating_sub(base)));
                }
            }
            _ if !self.out.is_empty() && !self.glue => self.out.push(' '),
            _ => {}
        }
        if self.base.is_none() {
            self.base = place.map(|(start, _)| start.column);
        }
        self.out.push_str(text);
        self.last_end = place.map(|(_, end)| end);
        self.glue = glue_next;
    }
}

fn tokens_text(trees: &[TokenTree]) -> String {
    let mut writer = Writer {
        out: String::new(),
        last_end: None,
        base: None,
        glue: false,
    };
    let mut i = 0;
    while i < trees.len() {
        let tree = &trees[i];
        // A doc comment arrives as `#` + `[doc = "..."]` whose bracket span
        // covers the comment itself: write the comment.
        if let (TokenTree::Punct(p), Some(TokenTree::Group(g))) = (tree, trees.get(i + 1))
            && p.as_char() == '#'
            && g.delimiter() == Delimiter::Bracket
            && let Some(text) = g.span().source_text()
            && (text.starts_with("//") || text.starts_with("/*"))
        {
            if location(g.span()).is_none() && !writer.out.is_empty() {
                writer.out.push('\n');
                writer.glue = true;
            }
            writer.write(&text, g.span(), false);
            if location(g.span()).is_none() {
                writer.out.push('\n');
                writer.glue = true;
            }
            i += 2;
            continue;
        }
        let text = tree
            .span()
            .source_text()
            .unwrap_or_else(|| tree.to_string());
        let glue = matches!(tree, TokenTree::Punct(p) if p.spacing() == Spacing::Joint || p.as_char() == '#');
        writer.write(&text, tree.span(), glue);
        i += 1;
    }
    writer.out
}
