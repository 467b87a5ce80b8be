// Names a user might have in scope must not break the expansion.
#![allow(dead_code)]

mod atp_sdk {}
type Result<T> = std::result::Result<T, std::string::String>;
type Option = ();
struct Vec;
struct Box;
struct String;
fn inventory() {}

#[::atp_sdk::atp_tool]
fn plain(text: std::string::String) -> std::string::String {
    text
}

/// Uses the alias.
#[::atp_sdk::atp_tool(crate = "::atp_sdk")]
fn aliased(n: u32) -> Result<u32> {
    Ok(n)
}

fn main() {
    assert_eq!(plain("x".into()), "x");
}
