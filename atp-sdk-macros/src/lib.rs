//! The `#[atp_tool]` attribute of [atp-sdk](https://docs.rs/atp-sdk).
//!
//! This crate is an implementation detail: depend on `atp-sdk` and use
//! `atp_sdk::atp_tool`, which documents the attribute.
//!
//! The macro works in three steps, one module each: `args` parses the
//! attribute's keys, `analyse` checks the function's signature against
//! them, and `expand` writes the registration. Every problem found is
//! reported at once, each on the token it is about, and the user's
//! function is emitted next to the errors so the rest of the crate keeps
//! compiling.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod analyse;
mod args;
mod arguments;
mod elicits;
mod expand;
mod inner;
mod source;

/// Registers a function as an ATP tool. See `atp_sdk::atp_tool` for the
/// documentation.
#[proc_macro_attribute]
pub fn atp_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::atp_tool(attr.into(), item.into()).into()
}
