//! The `atp-dev` binary: `tools`, `call` and running a toolkit command.

mod support;

use std::time::Duration;

use atp_dev::DevServer;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn call_prints_the_result_as_json() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();

    let mut call = atp_dev();
    call.args([
        "call",
        "echo",
        "name=Acme",
        "n=3",
        "ok=true",
        r#"tags=["a","b"]"#,
        "--token",
        "t1",
    ])
    .args(["--server", &server.base_url()]);
    let toolkit_side = async {
        let request = toolkit.next_request().await;
        assert_eq!(
            request["params"],
            json!({"name": "Acme", "n": 3, "ok": true, "tags": ["a", "b"]})
        );
        assert_eq!(request["auth_token"], "t1");
        toolkit
            .respond(&request["request_id"], json!({"created": "Acme"}))
            .await;
    };
    let (output, ()) = tokio::join!(run(&mut call), toolkit_side);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout, "{\n  \"created\": \"Acme\"\n}\n");
    // Arguments the tool does not take are sent (models add their own),
    // and said.
    assert!(
        text(&output.stderr).contains(
            "warning: echo has no parameter `n`, `name`, `ok`, `tags` (its parameters: x); the tool ignores them"
        ),
        "{}",
        text(&output.stderr)
    );
    // And marked in the call log.
    let logged = server.recent_calls();
    assert_eq!(
        logged.last().map(|e| e.ignored_params.clone()),
        Some(vec!["n".into(), "name".into(), "ok".into(), "tags".into()])
    );

    // An error result is printed too, and exits 1. The server comes from
    // ATP_DEV_URL.
    let mut call = atp_dev();
    call.args(["call", "echo"])
        .env("ATP_DEV_URL", server.base_url());
    let toolkit_side = async {
        let request = toolkit.next_request().await;
        toolkit
            .respond(
                &request["request_id"],
                json!({"error": "Missing required parameter: x"}),
            )
            .await;
    };
    let (output, ()) = tokio::join!(run(&mut call), toolkit_side);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("echo answered an error"));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result, json!({"error": "Missing required parameter: x"}));
    assert!(!text(&output.stderr).contains("warning"));

    // A tool that needs a token and got none: how to give one.
    let mut call = atp_dev();
    call.args(["call", "echo", "x=1", "--server", &server.base_url()]);
    let toolkit_side = async {
        let request = toolkit.next_request().await;
        toolkit
            .respond(
                &request["request_id"],
                json!({"error": "Missing auth_token for authenticated tool"}),
            )
            .await;
    };
    let (output, ()) = tokio::join!(run(&mut call), toolkit_side);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(
            "hint: echo needs the user's token: give one with --token TOKEN (in the playground, the token field)"
        ),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn a_port_in_use_is_said_with_the_way_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run(atp_dev().args(["--port", &port, "--", "true"])).await;
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "hint: another program (another atp-dev?) has port {port}: choose one with --port N (--port 0 takes any free one)"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn call_fails_with_a_message_when_there_is_no_answer() {
    let server = DevServer::start().await.unwrap();
    let output = run(atp_dev().args(["call", "nope", "--server", &server.base_url()])).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(output.stdout.is_empty());
    assert!(
        text(&output.stderr).contains("unknown tool: nope"),
        "{}",
        text(&output.stderr)
    );

    register(&server, "k", "demo", "silent").await;
    let _toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["silent"], WAIT).await.unwrap();

    // A near miss: the tool meant.
    let output = run(atp_dev().args(["call", "silnet", "--server", &server.base_url()])).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("hint: did you mean `silent`?"),
        "{}",
        text(&output.stderr)
    );
    let output = run(atp_dev().args([
        "call",
        "silent",
        "--timeout",
        "0.05",
        "--server",
        &server.base_url(),
    ]))
    .await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("did not answer"),
        "{}",
        text(&output.stderr)
    );

    // Nothing listens on port 1.
    let output = run(atp_dev().args(["call", "echo", "--server", "http://127.0.0.1:1"])).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("could not reach atp-dev"),
        "{}",
        text(&output.stderr)
    );

    let output =
        run(atp_dev().args(["call", "echo", "novalue", "--server", &server.base_url()])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("not key=value"));
}

#[tokio::test]
async fn tools_lists_connected_tools() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let _toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();
    let output = run(atp_dev().args(["tools", "--server", &server.base_url()])).await;
    assert!(output.status.success());
    let table = text(&output.stdout);
    assert!(table.starts_with("TOOL"), "{table}");
    assert!(
        table.contains("echo") && table.contains("demo") && table.contains("x*"),
        "{table}"
    );
    assert!(table.contains("The echo tool."), "{table}");

    let output = run(atp_dev().args(["tools", "--json", "--server", &server.base_url()])).await;
    let tools: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tools[0]["name"], "echo");
    assert_eq!(tools[0]["metadata"]["required_params"], json!(["x"]));
}

#[tokio::test]
async fn a_command_runs_beside_the_server_with_its_environment() {
    let script = r#"echo "$ATP_BASE_URL|$ATP_API_KEY|$ATP_APP_NAME"; exit 3"#;
    let output = run(atp_dev().args(["--port", "0", "--", "sh", "-c", script])).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let line = text(&output.stdout);
    let parts: Vec<&str> = line.trim().split('|').collect();
    assert!(parts[0].starts_with("http://127.0.0.1:"), "{line}");
    assert_eq!(parts[1], "dev");
    // The toolkit names itself (its executable: under `cargo run`, the
    // crate's binary, never `cargo`): atp-dev sets no `ATP_APP_NAME`.
    assert_eq!(parts[2], "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("atp-dev listening on http://127.0.0.1:"),
        "{stderr}"
    );

    // Without `--`, with a key of our own (which is never printed).
    let output = run(atp_dev().args([
        "--port",
        "0",
        "--api-key",
        "s3cret-key",
        "sh",
        "-c",
        "echo $ATP_API_KEY",
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "s3cret-key");
    assert!(
        !text(&output.stderr).contains("s3cret-key"),
        "the key is not printed"
    );

    let output = run(atp_dev().args(["--port", "0", "--", "no-such-program-atp"])).await;
    assert_eq!(output.status.code(), Some(127));
}

#[test]
fn key_value_params_are_json_when_they_parse() {
    let params = atp_dev::cli::parse_params(&[
        "s=hello".into(),
        "n=1.5".into(),
        "quoted=\"7\"".into(),
        "obj={\"a\":null}".into(),
        "empty=".into(),
        "eq=a=b".into(),
    ])
    .unwrap();
    assert_eq!(
        Value::Object(params),
        json!({"s": "hello", "n": 1.5, "quoted": "7", "obj": {"a": null}, "empty": "", "eq": "a=b"})
    );
    assert!(atp_dev::cli::parse_params(&["=x".into()]).is_err());
}

#[tokio::test]
async fn a_signal_stops_the_command_and_the_server() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = atp_dev()
        .args(["--port", "0", "--", "sleep", "30"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("atp-dev listening on") {
                return;
            }
        }
        panic!("atp-dev exited before listening");
    };
    tokio::time::timeout(WAIT, listening).await.unwrap();
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("stops at once")
        .unwrap();
    assert_eq!(status.code(), Some(130));
}

#[tokio::test]
async fn bench_drives_a_tool_and_reports_json() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["echo"], WAIT).await.unwrap();

    let mut bench = atp_dev();
    bench
        .args([
            "bench",
            "echo",
            "text=hi",
            "--requests",
            "40",
            "--concurrency",
            "4",
        ])
        .args(["--json", "--ceiling", "--server", &server.base_url()]);
    let (output, ()) = tokio::join!(run(&mut bench), toolkit.serve(40, "raw"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    for key in [
        "requests",
        "concurrency",
        "errors",
        "timeouts",
        "throughput_per_s",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "max_ms",
        "driver_ceiling_per_s",
    ] {
        assert!(report.get(key).is_some(), "{key} in {report}");
    }
    assert_eq!(report["requests"], 40);
    assert_eq!(report["concurrency"], 4);
    assert_eq!(report["ok"], 40);
    assert_eq!(report["errors"], 0);
    assert!(report["p50_ms"].as_f64() <= report["p99_ms"].as_f64());

    // The human report, and an unknown tool.
    let mut bench = atp_dev();
    bench
        .args(["bench", "echo", "text=hi", "-n", "5", "-c", "2"])
        .args(["--server", &server.base_url()]);
    let (output, ()) = tokio::join!(run(&mut bench), toolkit.serve(5, "raw"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    // stderr is no terminal here: no progress bar drawn into it.
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "no progress bar when stderr is not a terminal: {stderr:?}"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("bench echo: 5 requests, 2 in flight"),
        "{stdout}"
    );
    assert!(stdout.contains("p99"), "{stdout}");
    let output = run(atp_dev().args(["bench", "nope", "--server", &server.base_url()])).await;
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("unknown tool: nope"));
}

#[tokio::test]
async fn app_starts_acts_and_ends_a_session() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "ticket").await;
    let mut toolkit = RawToolkit::connect(&server, "k").await;
    server.wait_for_tools(&["ticket"], WAIT).await.unwrap();
    let url = server.base_url();

    // start: the toolkit gets atp_app_request; the CLI prints the UI and
    // names the session.
    let mut start = atp_dev();
    start.args([
        "app",
        "start",
        "ticket",
        "product=sdk",
        "--token",
        "t1",
        "--server",
        &url,
    ]);
    let toolkit_side = async {
        let frame = toolkit.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_request");
        assert_eq!(frame["payload"]["tool_name"], "ticket");
        assert_eq!(frame["payload"]["params"], json!({"product": "sdk"}));
        assert_eq!(frame["payload"]["auth_token"], "t1");
        let id = frame["payload"]["request_id"].clone();
        toolkit
            .send_json(json!({"type": "app_response", "request_id": id, "result": {"screen": 1}}))
            .await;
        id
    };
    let (output, session) = tokio::join!(run(&mut start), toolkit_side);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({"screen": 1})
    );
    let session = session.as_str().unwrap().to_owned();
    assert!(text(&output.stderr).contains(&format!("session {session} answered")));

    // action: key=value pairs are the action data.
    let mut action = atp_dev();
    action.args(["app", "action", &session, "choice=2", "--server", &url]);
    let toolkit_side = async {
        let frame = toolkit.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_action");
        assert_eq!(frame["payload"]["request_id"], session.as_str());
        assert_eq!(frame["payload"]["action_data"], json!({"choice": 2}));
        toolkit
            .send_json(
                json!({"type": "app_response", "request_id": session, "result": {"screen": 2}}),
            )
            .await;
    };
    let (output, ()) = tokio::join!(run(&mut action), toolkit_side);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({"screen": 2})
    );

    // end: atp_app_terminate; then the session is gone.
    let mut end = atp_dev();
    end.args(["app", "end", &session, "--server", &url]);
    let toolkit_side = async {
        let frame = toolkit.next_json().await;
        assert_eq!(frame["message_type"], "atp_app_terminate");
        toolkit
            .send_json(json!({"type": "app_response", "request_id": session, "result": {"terminated": true}}))
            .await;
    };
    let (output, ()) = tokio::join!(run(&mut end), toolkit_side);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut again = atp_dev();
    again.args(["app", "action", &session, "--json", "{}", "--server", &url]);
    let output = run(&mut again).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains(&format!("unknown app session: {session} (HTTP 404)")),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn context_prints_what_an_llm_is_shown() {
    let server = DevServer::start().await.unwrap();
    register(&server, "k", "demo", "echo").await;
    // A tool whose parameter is a map: free keys, which OpenAI's strict
    // mode can't say.
    let mut tally = registration("k", "demo", "tally");
    tally["metadata"]["parameters"]["properties"]["x"] =
        json!({"type": "object", "additionalProperties": {"type": "integer"}});
    let (status, body) = post(&server, "/api/v1/register_tool", &tally).await;
    assert_eq!(status, 200, "{body}");
    let _toolkit = RawToolkit::connect(&server, "k").await;
    server
        .wait_for_tools(&["echo", "tally"], WAIT)
        .await
        .unwrap();
    let base = server.base_url();

    let output = run(atp_dev().args([
        "context",
        "demo",
        "--provider",
        "anthropic",
        "--server",
        &base,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tools: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tools[0]["name"], "echo", "{tools}");
    assert_eq!(tools[0]["description"], "The echo tool.", "{tools}");
    assert_eq!(tools[0]["input_schema"]["type"], "object", "{tools}");
    assert_eq!(
        tools[0]["input_schema"]["required"],
        json!(["x"]),
        "{tools}"
    );

    let output = run(atp_dev().args([
        "context",
        "demo",
        "--provider",
        "mistral",
        "--server",
        &base,
    ]))
    .await;
    let tools: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tools[0]["type"], "function", "{tools}");
    assert_eq!(tools[0]["function"]["name"], "echo", "{tools}");

    // openai by default; --full prints the whole context.
    let output = run(atp_dev().args([
        "context",
        "demo",
        "--full",
        "--user-prompt",
        "echo this",
        "--server",
        &base,
    ]))
    .await;
    let context: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(context["toolkit_name"], "demo", "{context}");
    assert_eq!(context["user_prompt"], "echo this", "{context}");
    assert_eq!(context["provider"], "openai", "{context}");
    assert_eq!(context["tools"][0]["type"], "function", "{context}");
    assert_eq!(context["tools"][0]["name"], "echo", "{context}");
    // Strict where the schema can be; where not, why (on stderr too).
    let why = "`x` is an object with free keys (a map), which strict mode can't describe";
    assert_eq!(context["tools"][0]["strict"], true, "{context}");
    assert_eq!(context["tools"][1]["name"], "tally", "{context}");
    assert_eq!(context["tools"][1]["strict"], false, "{context}");
    assert_eq!(context["not_strict"], json!({"tally": why}), "{context}");
    assert_eq!(
        text(&output.stderr).trim(),
        format!("note: `tally` is not strict for openai: {why}")
    );

    // Gemini, which the platform's API has not: its OpenAPI subset.
    let output =
        run(atp_dev().args(["context", "demo", "--provider", "gemini", "--server", &base])).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let tools: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        tools[0],
        json!({"name": "echo", "description": "The echo tool.",
               "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}, "required": ["x"]}}),
        "{tools}"
    );

    let output = run(atp_dev().args(["context", "nobody", "--server", &base])).await;
    assert!(!output.status.success());
    // The toolkits that are connected, listed.
    assert!(
        text(&output.stderr).contains("unknown toolkit: nobody; connected: demo (HTTP 404)"),
        "{}",
        text(&output.stderr)
    );
    // The dev API's statuses, by the kind of error: an unknown provider is
    // the request's fault (400), an unknown toolkit is not found (404).
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/api/dev/toolkits/demo/context?provider=llama", 400),
        ("/api/dev/toolkits/nobody/context", 404),
        ("/api/dev/toolkits/demo/context?provider=gemini", 200),
    ] {
        let answer = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path}");
    }

    let output =
        run(atp_dev().args(["context", "demo", "--provider", "llama", "--server", &base])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("openai"),
        "{}",
        text(&output.stderr)
    );
}

/// `atp-dev --watch` running a command in a scratch crate directory that
/// notes each start (its pid) in `starts.log`, fails while `broken`
/// exists, and else runs until stopped (with a child of its own, as
/// `cargo run` has).
struct Watching {
    dir: std::path::PathBuf,
    /// The starts there should be so far (the first, then one a change).
    expected: usize,
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    seen: Vec<String>,
}

impl Watching {
    /// A scratch directory named after `name`, laid out by `lay_out`, and
    /// atp-dev watching it (once it says so).
    async fn start(name: &str, lay_out: impl FnOnce(&std::path::Path)) -> Watching {
        use tokio::io::AsyncBufReadExt;
        let dir = std::env::temp_dir().join(format!("atp-dev-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        lay_out(&dir);
        let script = format!(
            "echo $$ >> {starts}; if [ -f {broken} ]; then exit 101; fi; sleep 60 & wait",
            starts = dir.join("starts.log").display(),
            broken = dir.join("broken").display(),
        );
        let mut child = atp_dev()
            .current_dir(&dir)
            .args(["--port", "0", "--watch", "--", "sh", "-c", &script])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut watching = Watching {
            dir,
            expected: 1,
            child,
            lines,
            seen: Vec::new(),
        };
        watching.wait_for("atp-dev: watching").await;
        watching
    }

    /// Makes a change with `save` and waits for the one restart it
    /// causes; the line that announced it.
    async fn saved(&mut self, what: &str, save: impl FnOnce()) -> String {
        save();
        let line = self.wait_for("restarting").await;
        self.expected += 1;
        let pids = self.started(self.expected).await;
        assert_eq!(pids.len(), self.expected, "{what}: one restart ({line})");
        line
    }

    /// The next line atp-dev prints that contains `needle`.
    async fn wait_for(&mut self, needle: &str) -> String {
        let (lines, seen) = (&mut self.lines, &mut self.seen);
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("atp-dev exited; it said:\n{}", seen.join("\n"));
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "no line with {needle:?}; it said:\n{}",
                self.seen.join("\n")
            )
        })
    }

    /// The pids of the starts so far, once there are at least `n`.
    async fn started(&self, n: usize) -> Vec<String> {
        let starts = self.dir.join("starts.log");
        tokio::time::timeout(WAIT, async {
            loop {
                let text = std::fs::read_to_string(&starts).unwrap_or_default();
                let pids: Vec<String> = text.lines().map(str::to_owned).collect();
                if pids.len() >= n {
                    return pids;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} starts"))
    }

    /// Every start so far.
    fn starts(&self) -> usize {
        std::fs::read_to_string(self.dir.join("starts.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Stops atp-dev with SIGTERM; its exit status.
    async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-s", "TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("stops at once")
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        status
    }
}

fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `--watch`: a real file change restarts the command (the old one
/// stopped, process group and all); a failing command stays down and says
/// so; the next change starts it again; the last line is a signal's stop.
#[tokio::test]
async fn watch_restarts_the_command_when_a_file_changes() {
    let mut w = Watching::start("watch", |dir| {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("target/debug")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "// v1\n").unwrap();
    })
    .await;
    assert!(w.seen.last().unwrap().contains("src"), "{:?}", w.seen);
    let dir = w.dir.clone();
    let first = w.started(1).await;

    // A change under target/ is no change.
    std::fs::write(dir.join("target/debug/out"), "build output").unwrap();
    // A real change restarts it; the first run is gone.
    std::fs::write(dir.join("src/lib.rs"), "// v2\n").unwrap();
    let line = w.wait_for("restarting").await;
    assert!(line.contains("src/lib.rs changed"), "{line}");
    let pids = w.started(2).await;
    assert!(!alive(&first[0]), "the first run was stopped");
    assert!(alive(&pids[1]), "the second run is running");

    // A failing command stays down, said so.
    std::fs::write(dir.join("broken"), "").unwrap();
    std::fs::write(dir.join("src/lib.rs"), "// v3\n").unwrap();
    w.wait_for("restarting").await;
    let failed = w.wait_for("failed").await;
    assert!(failed.contains("101"), "{failed}");
    assert!(failed.contains("the next change"), "{failed}");
    // The next change tries again.
    std::fs::remove_file(dir.join("broken")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "// v4\n").unwrap();
    w.wait_for("restarting").await;
    let pids = w.started(4).await;
    assert!(alive(&pids[3]));

    assert_eq!(w.starts(), 4, "no restart for target/");
    let status = w.stop().await;
    assert_eq!(status.code(), Some(130));
    assert!(!alive(&pids[3]), "the command was stopped with atp-dev");
}

/// Guards review fault (round 2) 3: `src/` was watched without recursion
/// plus the subdirectories there at start, so a file in a new directory
/// never restarted the command; `Cargo.toml` was watched as a file, so a
/// save that writes a temporary file and renames it over the original
/// (vim's default, JetBrains' safe write, many formatters) restarted once
/// and never again. Each kind of save restarts exactly once, every time.
#[tokio::test]
async fn watch_follows_new_directories_and_saves_that_rename_over() {
    let mut w = Watching::start("watch-saves", |dir| {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "// v0\n").unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package] # v0\n").unwrap();
    })
    .await;
    let dir = w.dir.clone();
    w.started(1).await;
    for round in 1..=3 {
        // A module in a directory that did not exist, then edited.
        let module = dir.join(format!("src/tools{round}/mod.rs"));
        w.saved("a file in a new directory", || {
            std::fs::create_dir_all(module.parent().unwrap()).unwrap();
            std::fs::write(&module, "// new\n").unwrap();
        })
        .await;
        w.saved("an edit in the new directory", || {
            std::fs::write(&module, format!("// edit {round}\n")).unwrap();
        })
        .await;
        // Cargo.toml written to a temporary file renamed over it.
        w.saved("Cargo.toml renamed over", || {
            let tmp = dir.join("Cargo.toml.tmp");
            std::fs::write(&tmp, format!("[package] # v{round}\n")).unwrap();
            std::fs::rename(&tmp, dir.join("Cargo.toml")).unwrap();
        })
        .await;
        // vim: the original moved aside, a new one written.
        w.saved("Cargo.toml saved the vim way", || {
            std::fs::rename(dir.join("Cargo.toml"), dir.join("Cargo.toml~")).unwrap();
            std::fs::write(dir.join("Cargo.toml"), format!("[package] # vim {round}\n")).unwrap();
            std::fs::remove_file(dir.join("Cargo.toml~")).unwrap();
        })
        .await;
        // src/main.rs renamed over, too.
        w.saved("src/main.rs renamed over", || {
            let tmp = dir.join("src/.main.rs.swp");
            std::fs::write(&tmp, format!("// v{round}\n")).unwrap();
            std::fs::rename(&tmp, dir.join("src/main.rs")).unwrap();
        })
        .await;
    }
    // A file next to Cargo.toml (Cargo.lock, written by every build) is no
    // change; one more real change shows no restart came in between.
    std::fs::write(dir.join("Cargo.lock"), "# lock\n").unwrap();
    w.saved("a last edit", || {
        std::fs::write(dir.join("src/main.rs"), "// last\n").unwrap();
    })
    .await;
    assert_eq!(w.starts(), w.expected, "exactly one restart per save");
    assert_eq!(w.stop().await.code(), Some(130));
}

/// `--watch` does not follow a link to a directory made inside a watched
/// tree (a link to `/` would be walked whole, and changes outside the
/// project would restart the command), and a directory removed and made
/// again within one burst is watched again (its old watch went with it).
#[tokio::test]
async fn watch_skips_linked_directories_and_rewatches_a_remade_one() {
    let mut w = Watching::start("watch-links", |dir| {
        std::fs::create_dir_all(dir.join("src/remade")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "// v0\n").unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\n").unwrap();
    })
    .await;
    let dir = w.dir.clone();
    w.started(1).await;
    // The link is a new entry of src/: that restarts; what is behind it
    // is not watched.
    w.saved("a link made", || {
        std::os::unix::fs::symlink(dir.join("outside"), dir.join("src/linked")).unwrap();
    })
    .await;
    std::fs::write(dir.join("outside/elsewhere.rs"), "// not ours\n").unwrap();
    let line = w
        .saved("an edit after the outside one", || {
            std::fs::write(dir.join("src/main.rs"), "// v1\n").unwrap();
        })
        .await;
    assert!(
        line.contains("src/main.rs changed — restarting"),
        "only src/main.rs, nothing behind the link: {line}"
    );
    // src/remade removed and made again in one burst, then a file in it.
    w.saved("a directory remade", || {
        std::fs::remove_dir(dir.join("src/remade")).unwrap();
        std::fs::create_dir(dir.join("src/remade")).unwrap();
    })
    .await;
    w.saved("a file in the remade directory", || {
        std::fs::write(dir.join("src/remade/mod.rs"), "// new\n").unwrap();
    })
    .await;
    assert_eq!(w.starts(), w.expected, "exactly one restart per change");
    assert_eq!(w.stop().await.code(), Some(130));
}
