//! `atp-dev tools`: the tools of every connected toolkit, as a table or
//! JSON.

use std::process::ExitCode;

use super::{ServerArg, client_error};

/// Lists the tools of every connected toolkit.
pub(super) async fn run(server: &ServerArg, json: bool) -> ExitCode {
    let client = server.client();
    let server = &server.url;
    let tools = match client.tools().await {
        Ok(tools) => tools,
        Err(err) => return client_error(&err),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tools).expect("JSON always serializes")
        );
        return ExitCode::SUCCESS;
    }
    if tools.is_empty() {
        println!("no toolkit is connected to {server}");
        return ExitCode::SUCCESS;
    }
    let rows: Vec<[String; 5]> = tools
        .iter()
        .map(|tool| {
            let params = tool
                .metadata
                .params
                .iter()
                .map(|p| {
                    if tool.metadata.required_params.contains(p) {
                        format!("{p}*")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let description = tool
                .metadata
                .description
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            [
                tool.name.clone(),
                tool.app_name.clone(),
                params,
                tool.metadata
                    .auth_provider
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                description,
            ]
        })
        .collect();
    print_table(
        [
            "TOOL",
            "TOOLKIT",
            "PARAMS (* required)",
            "AUTH",
            "DESCRIPTION",
        ],
        &rows,
    );
    ExitCode::SUCCESS
}

fn print_table(header: [&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str));
    }
}
