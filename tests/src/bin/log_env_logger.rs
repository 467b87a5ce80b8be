//! Review fault 6: a toolkit in a program that logs through the `log`
//! crate with env_logger (`RUST_LOG`, to stderr), then serves with
//! `atp_sdk::run()` from the environment (`ATP_API_KEY`, ...).
//! Whatever `RUST_LOG` says, no secret may reach its log.

// Links the test tools (`echo`, `whoami`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    env_logger::Builder::from_default_env()
        .target(env_logger::Target::Stderr)
        .init();
    atp_sdk::run()
}
