use atp_sdk::atp_tool;

fn main() {
    /// Echoes.
    #[atp_tool]
    fn echo(text: String) -> String {
        text
    }
}
