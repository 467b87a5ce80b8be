//! Two tools with one name: the toolkit refuses to start and names both
//! definitions.

use atp_sdk::atp_tool;

/// One.
#[atp_tool(name = "twin")]
fn twin_one() -> u8 {
    1
}

mod other {
    /// Two.
    #[atp_sdk::atp_tool(name = "twin")]
    fn twin_two() -> u8 {
        2
    }
}

#[test]
fn duplicate_names_are_an_error_naming_both_places() {
    let err = atp_sdk::ToolKitClient::builder("k", "twins").build().unwrap_err();
    let atp_sdk::Error::DuplicateTool { name, first, second } = &err else {
        panic!("expected DuplicateTool, got {err:?}");
    };
    assert_eq!(name, "twin");
    let file = file!();
    assert_ne!(first, second);
    for place in [first, second] {
        assert!(place.starts_with(file), "{place} is in {file}");
    }
    assert!(first.ends_with(":7") || second.ends_with(":7"), "{first} {second}");
    assert!(first.ends_with(":15") || second.ends_with(":15"), "{first} {second}");
    assert!(err.to_string().contains("two tools are named `twin`"), "{err}");
    assert_eq!(twin_one(), 1);
}
