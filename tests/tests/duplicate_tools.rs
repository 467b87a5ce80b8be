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
    let err = atp_sdk::ToolKitClient::builder("k", "twins")
        .build()
        .unwrap_err();
    let atp_sdk::Error::DuplicateTool {
        name,
        first,
        second,
    } = &err
    else {
        panic!("expected DuplicateTool, got {err:?}");
    };
    assert_eq!(name, "twin");
    let file = file!();
    assert_ne!(first, second);
    for place in [first, second] {
        assert!(place.starts_with(file), "{place} is in {file}");
    }
    // The attribute lines of both definitions, read from this file.
    let lines: Vec<String> = include_str!("duplicate_tools.rs")
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            l.trim_start().starts_with("#[") && l.contains("atp_tool(name = \"twin\")")
        })
        .map(|(i, _)| format!("{file}:{}", i + 1))
        .collect();
    assert_eq!(lines.len(), 2);
    let mut places = [first.clone(), second.clone()];
    places.sort();
    let mut expected = [lines[0].clone(), lines[1].clone()];
    expected.sort();
    assert_eq!(places, expected);
    assert!(
        err.to_string().contains("two tools are named `twin`"),
        "{err}"
    );
    assert_eq!(twin_one(), 1);
}
