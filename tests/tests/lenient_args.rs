//! Arguments the way models send them, through a real atp-dev: a number
//! or boolean as a string, a whole float for an integer, an array or
//! object as a JSON-encoded string are read by default; with
//! `#[atp_tool(strict_args)]` (or `DynamicTool::strict_args`) only the
//! whole float is; what still fails names its JSON path and the expected
//! JSON in one line.

use atp_sdk::{DynamicTool, atp_tool};
use atp_tests::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Status {
    Open,
    Closed,
}

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
struct Filter {
    tags: Vec<Status>,
    min_votes: Option<u16>,
}

/// Searches the tickets.
#[atp_tool]
fn find_tickets(limit: u32, exact: bool, ratio: f64, ids: Vec<u64>, filter: Filter) -> Value {
    json!({"limit": limit, "exact": exact, "ratio": ratio, "ids": ids, "filter": filter})
}

/// The same limit, read as sent.
#[atp_tool(strict_args)]
fn strict_search(limit: u32, exact: Option<bool>) -> Value {
    json!({"limit": limit, "exact": exact})
}

#[tokio::test]
async fn arguments_are_read_the_way_models_send_them() {
    let server = start_server().await;
    let client = builder(&server, "lenient", Some(&["find_tickets", "strict_search"]))
        .tool(
            DynamicTool::new("strict_dynamic", |mut args: atp_sdk::CallArgs| async move {
                Ok(json!(args.required::<u32>("n")?))
            })
            .param::<u32>("n", "A count.")
            .strict_args(true),
        )
        .tool(
            DynamicTool::new(
                "lenient_dynamic",
                |mut args: atp_sdk::CallArgs| async move { Ok(json!(args.required::<u32>("n")?)) },
            )
            .param::<u32>("n", "A count."),
        )
        .build()
        .expect("the toolkit builds");
    let toolkit = spawn(client);
    server
        .wait_for_tools(
            &[
                "find_tickets",
                "strict_search",
                "strict_dynamic",
                "lenient_dynamic",
            ],
            WAIT,
        )
        .await
        .unwrap();

    // Everything as a model may send it.
    assert_eq!(
        call(
            &server,
            "find_tickets",
            json!({
                "limit": "3", "exact": "true", "ratio": "0.5",
                "ids": "[1, 2.0, \"3\"]",
                "filter": "{\"tags\": [\"open\"], \"min_votes\": \"10\"}",
            })
        )
        .await,
        json!({"limit": 3, "exact": true, "ratio": 0.5, "ids": [1, 2, 3],
               "filter": {"tags": ["open"], "min_votes": 10}})
    );
    // And as the schema says: unchanged.
    assert_eq!(
        call(
            &server,
            "find_tickets",
            json!({"limit": 3.0, "exact": false, "ratio": 1,
                   "ids": [], "filter": {"tags": [], "min_votes": null}})
        )
        .await,
        json!({"limit": 3, "exact": false, "ratio": 1.0, "ids": [],
               "filter": {"tags": [], "min_votes": null}})
    );

    // What still fails: its path, the JSON expected, what came.
    let base = json!({"limit": 1, "exact": true, "ratio": 1, "ids": [], "filter": {"tags": []}});
    let with = |key: &str, value: Value| {
        let mut params = base.clone();
        params[key] = value;
        params
    };
    for (params, error) in [
        (
            with("filter", json!({"tags": ["open", "closed", "done"]})),
            "Invalid parameter 'filter.tags[2]': expected one of \"open\", \"closed\", got \"done\"",
        ),
        (
            with("limit", json!(7.5)),
            "Invalid parameter 'limit': expected an integer from 0 to 4294967295, got 7.5",
        ),
        (
            with("ids", json!([1, -2])),
            "Invalid parameter 'ids[1]': expected an integer ≥ 0, got -2",
        ),
        (
            with("filter", json!({"tags": [], "min_votes": 70000})),
            "Invalid parameter 'filter.min_votes': expected an integer from 0 to 65535, got 70000",
        ),
        (
            with("exact", json!("maybe")),
            "Invalid parameter 'exact': expected a boolean, got \"maybe\"",
        ),
        (
            with("ids", json!("not json")),
            "Invalid parameter 'ids': expected an array, got \"not json\"",
        ),
        (
            with("filter", json!({})),
            "Invalid parameter 'filter': missing field \"tags\"",
        ),
    ] {
        assert_eq!(
            call(&server, "find_tickets", params.clone()).await,
            json!({ "error": error }),
            "{params}"
        );
    }
    // The seed's texts are unchanged.
    assert_eq!(
        call(&server, "find_tickets", json!({"limit": 1})).await,
        json!({"error": "Missing required parameter: exact"})
    );

    // strict_args: values as sent, but a whole float is an integer.
    assert_eq!(
        call(
            &server,
            "strict_search",
            json!({"limit": 4.0, "exact": true})
        )
        .await,
        json!({"limit": 4, "exact": true})
    );
    assert_eq!(
        call(&server, "strict_search", json!({"limit": "4"})).await,
        json!({"error": "Invalid parameter 'limit': expected an integer from 0 to 4294967295, got \"4\""})
    );
    assert_eq!(
        call(
            &server,
            "strict_search",
            json!({"limit": 4, "exact": "true"})
        )
        .await,
        json!({"error": "Invalid parameter 'exact': expected a boolean, got \"true\""})
    );
    assert_eq!(
        call(&server, "strict_dynamic", json!({"n": "5"})).await,
        json!({"error": "Invalid parameter 'n': expected an integer from 0 to 4294967295, got \"5\""})
    );
    assert_eq!(
        call(&server, "lenient_dynamic", json!({"n": "5"})).await,
        json!(5)
    );

    toolkit.shutdown().await.unwrap();
}

/// Takes a query and nothing else.
#[atp_tool(deny_unknown_fields)]
fn exact_query(query: String, limit: Option<u32>) -> Value {
    json!({"query": query, "limit": limit})
}

#[tokio::test]
async fn deny_unknown_fields_refuses_what_the_tool_does_not_take() {
    let server = start_server().await;
    let refusing =
        DynamicTool::new("refusing", |_| async { Ok(json!("ran")) }).deny_unknown_fields(true);
    let client = builder(&server, "deny-kit", Some(&["exact_query", "echo"]))
        .tool(refusing)
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["exact_query", "echo", "refusing"], WAIT)
        .await
        .unwrap();
    assert_eq!(
        call(&server, "exact_query", json!({"query": "q", "limit": 2})).await,
        json!({"query": "q", "limit": 2})
    );
    assert_eq!(
        call(
            &server,
            "exact_query",
            json!({"query": "q", "lmit": 2, "extra": true})
        )
        .await,
        json!({"error": "Unknown parameters: extra, lmit (the tool takes: query, limit)"})
    );
    assert_eq!(
        call(&server, "refusing", json!({"x": 1})).await,
        json!({"error": "Unknown parameter: x (the tool takes none)"})
    );
    // Without the flag, an extra argument is ignored, as before.
    assert_eq!(
        call(&server, "echo", json!({"text": "hi", "extra": 1})).await["echo"],
        "hi"
    );
    toolkit.shutdown().await.unwrap();
}
