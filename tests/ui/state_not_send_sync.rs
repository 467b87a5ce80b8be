use std::rc::Rc;

use atp_sdk::{atp_tool, State};

/// A state that can't cross threads.
#[atp_tool]
fn shared(counter: State<Rc<u8>>) -> u8 {
    **counter
}

fn main() {}
