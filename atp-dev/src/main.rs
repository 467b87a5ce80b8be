//! The `atp-dev` command: see `atp-dev --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    atp_dev::cli::main()
}
