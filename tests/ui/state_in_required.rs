use atp_sdk::{atp_tool, Context, State};

struct Db;

/// Lists `State` and `Context` as required parameters.
#[atp_tool(required = ["name", "db", "ctx"])]
fn lookup(name: String, db: State<Db>, ctx: Context) -> String {
    let _ = (db, ctx);
    name
}

fn main() {}
