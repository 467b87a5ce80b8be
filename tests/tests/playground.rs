//! The playground in a real browser: headless Chromium driven over
//! WebDriver against a real atp-dev and a real toolkit on loopback.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them; `CHROME_BIN` / `CHROMEDRIVER` point elsewhere). Without them the
//! test is skipped with a message, except in CI (`CI` set), where it fails.
//!
//! It leaves a screenshot of the page at
//! `target/playground-screenshot.png`.

use std::path::PathBuf;
use std::time::Duration;

use atp_dev::{CallOptions, CallStatus, DevServer};
use atp_tests::webdriver::{Browser, find_browser};
use atp_tests::*;
use serde_json::{Value, json};

/// Bounded wait for anything the page does.
const PAGE_WAIT: Duration = Duration::from_secs(15);

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("playground-screenshot.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_lists_calls_and_logs_tools_in_a_real_browser() {
    let Some((driver, chrome)) = find_browser() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        eprintln!(
            "skipped: no /usr/bin/chromium + /usr/bin/chromedriver (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let server = start_server().await;
    let toolkit = start_toolkit(
        &server,
        "browser-kit",
        Some(&["echo", "search", "plot", "whoami"]),
    )
    .await;
    let browser = Browser::start(&driver, &chrome)
        .await
        .expect("chromedriver and a headless chromium session start");

    let result = run_page_checks(&server, &browser).await;
    let shot = screenshot_path();
    if let Err(err) = browser.screenshot(&shot).await {
        eprintln!("no screenshot: {err}");
    } else {
        eprintln!("playground screenshot: {}", shot.display());
    }
    browser.close().await.ok();
    toolkit.shutdown().await.ok();
    server.shutdown().await;
    if let Err(err) = result {
        panic!("{err}");
    }
}

async fn run_page_checks(
    server: &DevServer,
    b: &Browser,
) -> Result<(), atp_tests::webdriver::Error> {
    b.goto(&server.playground_url()).await?;

    // The toolkit and its tools, with descriptions and auth.
    let echo = b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?;
    let text = b.text(&echo).await?;
    assert!(text.contains("Echoes the input text."), "{text}");
    let group = b
        .wait_for(r#".toolkit[data-app="browser-kit"] h3"#, PAGE_WAIT)
        .await?;
    assert!(b.text(&group).await?.contains("1 connection"));
    let whoami = b
        .wait_for(r#".tool[data-tool="whoami"]"#, PAGE_WAIT)
        .await?;
    let text = b.text(&whoami).await?;
    assert!(
        text.contains("auth: hubspot · OAuth2"),
        "auth badge: {text}"
    );
    assert_eq!(b.find_all(".tool").await?.len(), 4);

    // echo: fill the form, call, see the result and its latency.
    b.click(&b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?)
        .await?;
    let input = b.wait_for("#param-text", PAGE_WAIT).await?;
    let label = b.wait_for(r#"label[for="param-text"]"#, PAGE_WAIT).await?;
    let label = b.text(&label).await?;
    assert!(label.contains('*') && label.contains("string"), "{label}");
    let help = b
        .wait_for(r#"[data-param="text"] .help"#, PAGE_WAIT)
        .await?;
    assert_eq!(b.text(&help).await?, "The text to send back.");
    b.fill(&input, "hello from a browser").await?;
    let call = b.wait_for("#call-button", PAGE_WAIT).await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
    let body = b
        .text(&b.wait_for("#result-body", PAGE_WAIT).await?)
        .await?;
    let shown: Value = serde_json::from_str(&body)?;
    assert_eq!(shown, json!({"echo": "hello from a browser"}));
    let meta = b
        .text(&b.wait_for("#result-meta", PAGE_WAIT).await?)
        .await?;
    assert!(
        meta.contains(" ms · atp-dev-"),
        "latency and request id: {meta}"
    );
    let cli = b.text(&b.wait_for("#cli", PAGE_WAIT).await?).await?;
    assert_eq!(
        cli,
        format!(
            "$ atp-dev call echo --server {} 'text=hello from a browser'",
            server.base_url()
        )
    );

    // A missing required field reaches the toolkit, whose error shows as one.
    b.fill(&input, "").await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.error", PAGE_WAIT).await?;
    let title = b
        .text(&b.wait_for("#result-title", PAGE_WAIT).await?)
        .await?;
    assert_eq!(title, "The tool answered an error");
    let body = b
        .text(&b.wait_for("#result-body", PAGE_WAIT).await?)
        .await?;
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"error": "Missing required parameter: text"})
    );

    // search: typed fields from the schema (integer, boolean, optional array).
    b.click(
        &b.wait_for(r#".tool[data-tool="search"]"#, PAGE_WAIT)
            .await?,
    )
    .await?;
    let limit = b.wait_for("#param-limit", PAGE_WAIT).await?;
    let order = b
        .execute(
            r#"return [...document.querySelectorAll('#fields .field')].map(f => f.dataset.param)"#,
        )
        .await?;
    assert_eq!(
        order,
        json!(["query", "limit", "exact", "tags"]),
        "declaration order"
    );
    assert_eq!(b.attr(&limit, "type").await?.as_deref(), Some("number"));
    let exact = b.wait_for("#param-exact", PAGE_WAIT).await?;
    assert_eq!(b.tag(&exact).await?, "select");
    let tags = b.wait_for("#param-tags", PAGE_WAIT).await?;
    assert_eq!(b.tag(&tags).await?, "textarea");
    let required: Vec<String> = {
        let mut names = Vec::new();
        for label in b.find_all("#fields label").await? {
            let text = b.text(&label).await?;
            if text.contains('*') {
                names.push(text.split('*').next().unwrap_or_default().trim().to_owned());
            }
        }
        names
    };
    assert_eq!(required, ["query"]);
    b.fill(&b.wait_for("#param-query", PAGE_WAIT).await?, "rust")
        .await?;
    b.fill(&limit, "7").await?;
    b.click(
        &b.wait_for(r#"#param-exact option[value="true"]"#, PAGE_WAIT)
            .await?,
    )
    .await?;
    b.fill(&tags, r#"["a", "b"]"#).await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
    let body = b
        .text(&b.wait_for("#result-body", PAGE_WAIT).await?)
        .await?;
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"query": "rust", "limit": 7, "exact": true, "tags": ["a", "b"]})
    );

    // Invalid JSON in an array field: marked, and nothing is sent.
    let calls_before = server.recent_calls().len();
    b.fill(&tags, "[not json").await?;
    b.click(&call).await?;
    b.wait_for(r#"[data-param="tags"].invalid"#, PAGE_WAIT)
        .await?;
    let title = b
        .text(&b.wait_for("#result-title", PAGE_WAIT).await?)
        .await?;
    assert_eq!(title, "Fix the fields marked in red");
    assert_eq!(server.recent_calls().len(), calls_before);

    // plot: a struct behind a $ref is JSON, an enum with documented
    // variants is a list to choose from.
    b.click(&b.wait_for(r#".tool[data-tool="plot"]"#, PAGE_WAIT).await?)
        .await?;
    let colour = b.wait_for("#param-colour", PAGE_WAIT).await?;
    assert_eq!(b.tag(&colour).await?, "select");
    let options = b.find_all("#param-colour option").await?;
    assert_eq!(options.len(), 3, "(choose), red, blue");
    let point = b.wait_for("#param-point", PAGE_WAIT).await?;
    assert_eq!(b.tag(&point).await?, "textarea");
    let help = b
        .text(
            &b.wait_for(r#"[data-param="point"] .help"#, PAGE_WAIT)
                .await?,
        )
        .await?;
    assert_eq!(help, "Where.");
    b.fill(&point, r#"{"x": 3, "y": 4}"#).await?;
    b.click(
        &b.wait_for(r#"#param-colour option[value="blue"]"#, PAGE_WAIT)
            .await?,
    )
    .await?;
    b.fill(&b.wait_for("#param-labels", PAGE_WAIT).await?, r#"["p"]"#)
        .await?;
    b.fill(
        &b.wait_for("#param-weights", PAGE_WAIT).await?,
        r#"{"w": 1}"#,
    )
    .await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
    let body = b
        .text(&b.wait_for("#result-body", PAGE_WAIT).await?)
        .await?;
    let shown: Value = serde_json::from_str(&body)?;
    assert_eq!(shown["point"], json!({"x": 3, "y": 4}));
    assert_eq!(shown["colour"], "blue");

    // whoami: a token field, sent as the request's token, shown nowhere.
    // (The list is redrawn when toolkits change: find elements afresh.)
    b.click(
        &b.wait_for(r#".tool[data-tool="whoami"]"#, PAGE_WAIT)
            .await?,
    )
    .await?;
    let token = b
        .wait_for("#token-field:not(.hidden) #token", PAGE_WAIT)
        .await?;
    assert_eq!(b.attr(&token, "type").await?.as_deref(), Some("password"));
    b.fill(&token, "tok-from-the-browser").await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
    let body = b
        .text(&b.wait_for("#result-body", PAGE_WAIT).await?)
        .await?;
    assert_eq!(body, "\"tok-from-the-browser\"", "whoami returns its token");

    // The live log: every call so far, and a call from another client
    // (this test, through the library) pushed to the page as it happens.
    let outside = server
        .call_with(
            "echo",
            json!({"text": "from outside"}),
            CallOptions::default(),
        )
        .await?;
    let seq = server
        .recent_calls()
        .iter()
        .rfind(|e| e.request_id == outside.request_id)
        .map(|e| e.seq)
        .expect("the call is in the log");
    let row = b
        .wait_for(
            &format!(r#"#log tr.call[data-seq="{seq}"][data-status="ok"]"#),
            PAGE_WAIT,
        )
        .await?;
    let text = b.text(&row).await?;
    assert!(
        text.contains("echo") && text.contains(&outside.request_id),
        "{text}"
    );
    let logged = server.recent_calls();
    assert_eq!(logged.len(), 6, "5 calls from the page + 1 from outside");
    assert!(logged.iter().any(|e| e.status == CallStatus::ToolError));
    let rows = b.find_all("#log tr.call").await?.len();
    assert_eq!(rows, 6);
    // The token is in no event; the log shows only that one was sent.
    let detail = b
        .execute(r#"return [...document.querySelectorAll('#log tr.detail pre')].map(p => p.textContent).join('\n')"#)
        .await?;
    let detail = detail.as_str().unwrap_or_default();
    assert!(detail.contains("(sent, not shown)"), "{detail}");
    for event in &logged {
        // whoami's result is its token (the test tool proves injection);
        // its params and the rest of the event never hold it.
        let mut event = event.clone();
        event.result = None;
        let text = serde_json::to_string(&event)?;
        assert!(!text.contains("tok-from-the-browser"), "{text}");
    }
    let whoami_event = logged.iter().find(|e| e.tool == "whoami").expect("logged");
    assert!(whoami_event.with_token);
    assert_eq!(whoami_event.params, json!({}));

    // A toolkit that connects while the page is open shows up without a
    // reload (the `tools` event).
    let late = start_toolkit(server, "late-kit", Some(&["ping"])).await;
    b.wait_for(
        r#".toolkit[data-app="late-kit"] .tool[data-tool="ping"]"#,
        PAGE_WAIT,
    )
    .await?;
    late.shutdown().await.ok();
    b.wait_until(
        r#"return !document.querySelector('.toolkit[data-app="late-kit"] h3') || document.querySelector('.toolkit[data-app="late-kit"] h3').textContent.includes("0 connections")"#,
        PAGE_WAIT,
    )
    .await?;

    // Leave the page on the echo result for the screenshot.
    b.click(&b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?)
        .await?;
    let input = b.wait_for("#param-text", PAGE_WAIT).await?;
    b.fill(&input, "hello").await?;
    b.click(&call).await?;
    b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
    Ok(())
}
