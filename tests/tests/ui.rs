//! Compile errors of `#[atp_tool]`: each mistake is reported on the token it
//! is about, with what to do. `TRYBUILD=overwrite` regenerates the `.stderr`
//! snapshots (on the toolchain CI uses).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui/pass/*.rs");
}
