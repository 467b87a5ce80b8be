use atp_sdk::atp_tool;

struct Service;

impl Service {
    /// Counts.
    #[atp_tool]
    fn count(&self, n: u32) -> u32 {
        n
    }
}

fn main() {}
