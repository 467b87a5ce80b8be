use atp_sdk::atp_tool;

/// Not a function.
#[atp_tool]
struct Config {
    verbose: bool,
}

fn main() {}
