//! A program without any `#[atp_tool]` can't start a toolkit: the error says
//! why and how to fix the usual cause (a tools crate that is not linked).

#[test]
fn an_empty_registry_is_an_error() {
    let err = atp_sdk::ToolKitClient::builder("k", "empty")
        .build()
        .unwrap_err();
    assert!(matches!(err, atp_sdk::Error::NoTools), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no tools to serve"), "{text}");
    assert!(text.contains("use that_crate as _;"), "{text}");
}
