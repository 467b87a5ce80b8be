//! A toolkit configured only by the environment, as users write them:
//! `atp_sdk::run()` in `main`. The end-to-end tests start it as a process.

// Links the test tools (`echo`, `wait_gate`, ...).
use atp_tests as _;

fn main() -> Result<(), atp_sdk::Error> {
    atp_sdk::run()
}
