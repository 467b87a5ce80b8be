//! The playground in a real browser: headless Chromium driven over
//! WebDriver (`atp_tests::webdriver`, on `thirtyfour`) against a real
//! atp-dev and a real toolkit on loopback.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`CHROME_BIN` /
//! `CHROMEDRIVER` point elsewhere) and this package's `browser` feature
//! (thirtyfour; see `atp_tests::webdriver` for why it is a feature), so
//! the tests are ignored by default:
//! `cargo test -p atp-tests --features browser --test playground -- --include-ignored`.
//! Without the browser, or without the feature, they then fail saying what
//! is missing.
//!
//! The first test leaves a screenshot of the page at
//! `target/playground-screenshot.png`.

/// Without the `browser` feature the browser tests are not built; this
/// one says how to run them.
#[cfg(not(feature = "browser"))]
#[test]
#[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver) and --features browser: `cargo xtask test` sets it up and runs it"]
fn the_browser_tests_need_the_browser_feature() {
    panic!("{}", atp_tests::webdriver::without_the_feature());
}

#[cfg(feature = "browser")]
mod in_chromium {
    use std::time::Duration;

    use atp_dev::{CallOptions, CallStatus, DevServer};
    use atp_tests::webdriver::{Browser, Error, screenshot_path};
    use atp_tests::*;
    use serde_json::{Value, json};

    /// Bounded wait for anything the page does.
    const PAGE_WAIT: Duration = Duration::from_secs(15);

    /// Starts the browser, or fails saying what to install.
    async fn browser() -> Browser {
        Browser::start(&[])
            .await
            .unwrap_or_else(|err| panic!("no headless browser: {err}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver): `cargo xtask test` sets it up and runs it"]
    async fn the_playground_lists_calls_and_logs_tools_in_a_real_browser() {
        let browser = browser().await;
        let server = start_server().await;
        let toolkit = start_toolkit(
            &server,
            "browser-kit",
            Some(&["echo", "search", "plot", "whoami"]),
        )
        .await;

        let result = run_page_checks(&server, &browser).await;
        let shot = screenshot_path("playground-screenshot.png");
        if let Err(err) = browser.screenshot(&shot).await {
            eprintln!("no screenshot: {err}");
        } else {
            eprintln!("playground screenshot: {}", shot.display());
        }
        let closed = browser.close().await;
        toolkit.shutdown().await.ok();
        server.shutdown().await;
        result.unwrap_or_else(|err| panic!("{err}"));
        closed.expect("the browser session ends");
    }

    async fn run_page_checks(server: &DevServer, b: &Browser) -> Result<(), Error> {
        b.goto(&server.playground_url()).await?;

        // The toolkit and its tools, with descriptions and auth.
        let echo = b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?;
        let text = echo.text().await?;
        assert!(text.contains("Echoes the input text."), "{text}");
        let group = b
            .wait_for(r#".toolkit[data-app="browser-kit"] h3"#, PAGE_WAIT)
            .await?;
        assert!(group.text().await?.contains("1 connection"));
        let whoami = b
            .wait_for(r#".tool[data-tool="whoami"]"#, PAGE_WAIT)
            .await?;
        let text = whoami.text().await?;
        assert!(
            text.contains("auth: hubspot · OAuth2"),
            "auth badge: {text}"
        );
        assert_eq!(b.find_all(".tool").await?.len(), 4);

        // echo: fill the form, call, see the result and its latency.
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let input = b.wait_for("#param-text", PAGE_WAIT).await?;
        let label = b.wait_for(r#"label[for="param-text"]"#, PAGE_WAIT).await?;
        let label = label.text().await?;
        assert!(label.contains('*') && label.contains("string"), "{label}");
        let help = b
            .wait_for(r#"[data-param="text"] .help"#, PAGE_WAIT)
            .await?;
        assert_eq!(help.text().await?, "The text to send back.");
        b.fill(&input, "hello from a browser").await?;
        let call = b.wait_for("#call-button", PAGE_WAIT).await?;
        call.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let body = b.text_of("#result-body", PAGE_WAIT).await?;
        let shown: Value = serde_json::from_str(&body)?;
        assert_eq!(shown, json!({"echo": "hello from a browser"}));
        let meta = b.text_of("#result-meta", PAGE_WAIT).await?;
        assert!(
            meta.contains(" ms · atp-dev-"),
            "latency and request id: {meta}"
        );
        let cli = b.text_of("#cli", PAGE_WAIT).await?;
        assert_eq!(
            cli,
            format!(
                "$ atp-dev call echo --server {} 'text=hello from a browser'",
                server.base_url()
            )
        );

        // A missing required field reaches the toolkit, whose error shows as one.
        b.fill(&input, "").await?;
        call.click().await?;
        b.wait_for("#result.shown.error", PAGE_WAIT).await?;
        let title = b.text_of("#result-title", PAGE_WAIT).await?;
        assert_eq!(title, "The tool answered an error");
        let body = b.text_of("#result-body", PAGE_WAIT).await?;
        assert_eq!(
            serde_json::from_str::<Value>(&body)?,
            json!({"error": "Missing required parameter: text"})
        );

        // search: typed fields from the schema (integer, boolean, optional array).
        b.wait_for(r#".tool[data-tool="search"]"#, PAGE_WAIT)
            .await?
            .click()
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
        assert_eq!(limit.attr("type").await?.as_deref(), Some("number"));
        let exact = b.wait_for("#param-exact", PAGE_WAIT).await?;
        assert_eq!(exact.tag_name().await?, "select");
        // `Vec<String>`: a list of text inputs, not JSON.
        let tags = b.wait_for("#param-tags.list", PAGE_WAIT).await?;
        assert_eq!(tags.tag_name().await?, "div");
        let type_text = b
            .text_of(r#"label[for="param-tags"] .type"#, PAGE_WAIT)
            .await?;
        assert_eq!(type_text, "list of strings · optional");
        let required: Vec<String> = {
            let mut names = Vec::new();
            for label in b.find_all("#fields label").await? {
                let text = label.text().await?;
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
        b.wait_for(r#"#param-exact option[value="true"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        // Three items, one removed, one left empty: ["a", "b"] is sent.
        b.fill(
            &b.wait_for("#param-tags .item-value", PAGE_WAIT).await?,
            "a",
        )
        .await?;
        for _ in 0..3 {
            b.wait_for("#param-tags button.add", PAGE_WAIT)
                .await?
                .click()
                .await?;
        }
        let items = b.find_all("#param-tags .item-value").await?;
        assert_eq!(items.len(), 4);
        b.fill(&items[1], "dropped").await?;
        b.fill(&items[2], "b").await?;
        b.find_all("#param-tags .item button.remove").await?[1]
            .click()
            .await?;
        assert_eq!(b.find_all("#param-tags .item-value").await?.len(), 3);
        let cli = b.text_of("#cli", PAGE_WAIT).await?;
        assert!(cli.ends_with(r#"'tags=["a","b"]'"#), "{cli}");
        call.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let body = b.text_of("#result-body", PAGE_WAIT).await?;
        assert_eq!(
            serde_json::from_str::<Value>(&body)?,
            json!({"query": "rust", "limit": 7, "exact": true, "tags": ["a", "b"]})
        );

        // plot: a struct behind a $ref is JSON, an enum with documented
        // variants is a list to choose from.
        b.wait_for(r#".tool[data-tool="plot"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let colour = b.wait_for("#param-colour", PAGE_WAIT).await?;
        assert_eq!(colour.tag_name().await?, "select");
        let options = b.find_all("#param-colour option").await?;
        assert_eq!(options.len(), 3, "(choose), red, blue");
        let point = b.wait_for("#param-point", PAGE_WAIT).await?;
        assert_eq!(point.tag_name().await?, "textarea");
        let help = b
            .text_of(r#"[data-param="point"] .help"#, PAGE_WAIT)
            .await?;
        assert_eq!(help, "Where.");

        // Invalid JSON in a JSON field: marked, and nothing is sent.
        let calls_before = server.recent_calls().len();
        b.fill(&point, "{not json").await?;
        call.click().await?;
        b.wait_for(r#"[data-param="point"].invalid"#, PAGE_WAIT)
            .await?;
        let title = b.text_of("#result-title", PAGE_WAIT).await?;
        assert_eq!(title, "Fix the fields marked in red");
        assert_eq!(server.recent_calls().len(), calls_before);
        b.fill(&point, r#"{"x": 3, "y": 4}"#).await?;
        b.wait_for(r#"#param-colour option[value="blue"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.fill(
            &b.wait_for("#param-labels .item-value", PAGE_WAIT).await?,
            "p",
        )
        .await?;
        b.fill(
            &b.wait_for("#param-weights", PAGE_WAIT).await?,
            r#"{"w": 1}"#,
        )
        .await?;
        call.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let body = b.text_of("#result-body", PAGE_WAIT).await?;
        let shown: Value = serde_json::from_str(&body)?;
        assert_eq!(shown["point"], json!({"x": 3, "y": 4}));
        assert_eq!(shown["colour"], "blue");

        // whoami: a token field, sent as the request's token, shown nowhere.
        // (The list is redrawn when toolkits change: find elements afresh.)
        b.wait_for(r#".tool[data-tool="whoami"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let token = b
            .wait_for("#token-field:not(.hidden) #token", PAGE_WAIT)
            .await?;
        assert_eq!(token.attr("type").await?.as_deref(), Some("password"));
        // Without one, the answer says where to give it.
        call.click().await?;
        b.wait_for("#result.shown.error", PAGE_WAIT).await?;
        assert_eq!(
            b.text_of("#result-hint", PAGE_WAIT).await?,
            "This tool needs the user's token: give one in the auth token field above."
        );
        b.fill(&token, "tok-from-the-browser").await?;
        call.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let body = b.text_of("#result-body", PAGE_WAIT).await?;
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
        let text = row.text().await?;
        assert!(
            text.contains("echo") && text.contains(&outside.request_id),
            "{text}"
        );
        let logged = server.recent_calls();
        assert_eq!(logged.len(), 7, "6 calls from the page + 1 from outside");
        assert!(logged.iter().any(|e| e.status == CallStatus::ToolError));
        let rows = b.find_all("#log tr.call").await?.len();
        assert_eq!(rows, 7);
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
        let whoami_event = logged.iter().rfind(|e| e.tool == "whoami").expect("logged");
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

        // The selected tool is kept in the URL: a reload opens it again.
        b.wait_for(r#".tool[data-tool="search"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let hash = b.execute("return location.hash").await?;
        assert_eq!(hash, json!("#tool=search&toolkit=browser-kit"));
        // (The old page is marked, so nothing below can be read from it.)
        b.execute("window.beforeReload = true; location.reload(); return null")
            .await?;
        b.wait_until(
            r#"return !window.beforeReload && document.readyState === "complete""#,
            PAGE_WAIT,
        )
        .await?;
        b.wait_for(
            r#"#call-form:not(.hidden)[data-tool="search"] #param-query"#,
            PAGE_WAIT,
        )
        .await?;
        b.wait_for(r#".tool.selected[data-tool="search"]"#, PAGE_WAIT)
            .await?;
        // A shared link to a tool that is not connected opens nothing.
        b.execute(r##"window.beforeReload = true; location.hash = "#tool=gone&toolkit=browser-kit"; location.reload(); return null"##)
            .await?;
        b.wait_until(
            r#"return !window.beforeReload && document.readyState === "complete""#,
            PAGE_WAIT,
        )
        .await?;
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT).await?;
        assert_eq!(
            b.execute("return location.hash").await?,
            json!("#tool=gone&toolkit=browser-kit")
        );
        assert!(b.find_all(".tool.selected").await?.is_empty());

        // Leave the page on the echo result for the screenshot.
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let input = b.wait_for("#param-text", PAGE_WAIT).await?;
        b.fill(&input, "hello").await?;
        b.wait_for("#call-button", PAGE_WAIT).await?.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        Ok(())
    }

    /// The live log comes over a WebSocket, which holds none of the six
    /// HTTP/1.1 connections a browser allows per host: eight tabs of the
    /// playground are all live at once, each lists the tools (a ninth request
    /// to the host gets through), and a call from outside reaches every one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver): `cargo xtask test` sets it up and runs it"]
    async fn eight_tabs_of_the_playground_are_all_live() {
        let browser = browser().await;
        let server = start_server().await;
        let toolkit = start_toolkit(&server, "tabs-kit", Some(&["echo"])).await;

        let result = eight_tabs(&server, &browser).await;
        let closed = browser.close().await;
        toolkit.shutdown().await.ok();
        server.shutdown().await;
        result.unwrap_or_else(|err| panic!("{err}"));
        closed.expect("the browser session ends");
    }

    async fn eight_tabs(server: &DevServer, b: &Browser) -> Result<(), Error> {
        const TABS: usize = 8;
        let d = b.driver();
        let mut tabs = vec![d.window().await?];
        for _ in 1..TABS {
            tabs.push(d.new_tab().await?);
        }
        // Open the page in all of them first: every one stays open (and
        // connected) while the next loads.
        // (Were each tab to hold one of the six connections, as an event
        // stream does, the seventh would not even load.)
        for (i, tab) in tabs.iter().enumerate() {
            d.switch_to_window(tab.clone()).await?;
            b.goto(&server.playground_url())
                .await
                .map_err(|err| format!("tab {}: the page does not load: {err}", i + 1))?;
        }
        assert_eq!(d.windows().await?.len(), TABS);
        for (i, tab) in tabs.iter().enumerate() {
            d.switch_to_window(tab.clone()).await?;
            b.wait_for("#live.on", PAGE_WAIT)
                .await
                .map_err(|err| format!("tab {}: not live: {err}", i + 1))?;
            assert_eq!(
                b.text_of("#live-text", PAGE_WAIT).await?,
                "live",
                "tab {}",
                i + 1
            );
            b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
                .await
                .map_err(|err| format!("tab {}: no tools: {err}", i + 1))?;
        }

        // A call from outside the browser shows in every tab's log.
        let outside = server
            .call("echo", json!({"text": "to every tab"}), None)
            .await?;
        let seq = server
            .recent_calls()
            .iter()
            .rfind(|e| e.request_id == outside.request_id)
            .map(|e| e.seq)
            .expect("the call is in the log");
        let row = format!(r#"#log tr.call[data-seq="{seq}"][data-status="ok"]"#);
        for (i, tab) in tabs.iter().enumerate() {
            d.switch_to_window(tab.clone()).await?;
            let text = b
                .text_of(&row, PAGE_WAIT)
                .await
                .map_err(|err| format!("tab {}: the call is not in the log: {err}", i + 1))?;
            assert!(text.contains(&outside.request_id), "tab {}: {text}", i + 1);
        }

        // And a call made in the last tab shows in the first.
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.fill(&b.wait_for("#param-text", PAGE_WAIT).await?, "from tab 8")
            .await?;
        b.wait_for("#call-button", PAGE_WAIT).await?.click().await?;
        b.wait_for("#result.shown.ok", PAGE_WAIT).await?;
        let from_tab = server
            .recent_calls()
            .into_iter()
            .rfind(|e| e.params == json!({"text": "from tab 8"}))
            .expect("the page's call is in the log");
        d.switch_to_window(tabs[0].clone()).await?;
        b.wait_for(
            &format!(
                r#"#log tr.call[data-seq="{}"][data-status="ok"]"#,
                from_tab.seq
            ),
            PAGE_WAIT,
        )
        .await?;
        Ok(())
    }

    /// "What an LLM is shown of this tool": the selected tool's definition as
    /// the LLM-client API gives it, in each provider's shape.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs chromium + chromedriver (apt-get install chromium chromium-driver): `cargo xtask test` sets it up and runs it"]
    async fn the_llm_view_shows_each_providers_tool_shape() {
        let browser = browser().await;
        let server = start_server().await;
        let toolkit = start_toolkit(&server, "llm-kit", Some(&["echo", "search"])).await;

        let result = llm_view(&server, &browser).await;
        let closed = browser.close().await;
        toolkit.shutdown().await.ok();
        server.shutdown().await;
        result.unwrap_or_else(|err| panic!("{err}"));
        closed.expect("the browser session ends");
    }

    /// The definition of `tool` that atp-dev's context API gives for `provider`.
    async fn definition(server: &DevServer, provider: &str, tool: &str) -> Result<Value, Error> {
        let context: Value = http()
            .get(format!(
                "{}/api/dev/toolkits/llm-kit/context?provider={provider}",
                server.base_url()
            ))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        context["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == tool || t["function"]["name"] == tool)
            .cloned()
            .ok_or_else(|| format!("no {tool} in the {provider} context: {context}").into())
    }

    /// Waits until `#llm-body` shows `expected` (as JSON).
    async fn llm_body_shows(b: &Browser, expected: &Value) -> Result<Value, Error> {
        let script = format!(
            r#"const t = document.getElementById("llm-body").textContent;
           try {{ return JSON.stringify(JSON.parse(t)) === JSON.stringify({expected}) ? t : null; }}
           catch (e) {{ return null; }}"#
        );
        match b.wait_until(&script, PAGE_WAIT).await {
            Ok(shown) => Ok(serde_json::from_str(shown.as_str().unwrap_or_default())?),
            Err(err) => {
                let shown = b.text_of("#llm-body", PAGE_WAIT).await?;
                Err(format!("#llm-body shows {shown}\ninstead of {expected}\n({err})").into())
            }
        }
    }

    async fn llm_view(server: &DevServer, b: &Browser) -> Result<(), Error> {
        b.goto(&server.playground_url()).await?;
        // Hidden until a tool is picked.
        b.wait_for("#llm-view.hidden", PAGE_WAIT).await?;
        b.wait_for(r#".tool[data-tool="echo"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.wait_for("#llm-view:not(.hidden) summary", PAGE_WAIT)
            .await?
            .click()
            .await?;
        b.wait_for("#llm-view[open]", PAGE_WAIT).await?;

        // OpenAI (the default): {"type": "function", "name", "description", "parameters"}.
        let expected = definition(server, "openai", "echo").await?;
        let shown = llm_body_shows(b, &expected).await?;
        assert_eq!(shown["type"], "function");
        assert_eq!(shown["name"], "echo");
        assert_eq!(shown["description"], "Echoes the input text.");
        assert_eq!(shown["parameters"]["properties"]["text"]["type"], "string");
        assert_eq!(shown["parameters"]["required"], json!(["text"]));
        assert_eq!(
            b.text_of("#llm-cli", PAGE_WAIT).await?,
            "atp-dev context llm-kit --provider openai"
        );

        // Anthropic: {"name", "description", "input_schema"}.
        b.wait_for(r#"#llm-provider option[value="anthropic"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let expected = definition(server, "anthropic", "echo").await?;
        let shown = llm_body_shows(b, &expected).await?;
        let mut keys: Vec<&str> = shown
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["description", "input_schema", "name"]);
        assert_eq!(shown["name"], "echo");
        assert_eq!(
            shown["input_schema"]["properties"]["text"]["type"],
            "string"
        );

        // Mistral: {"type": "function", "function": {"name", "description", "parameters"}}.
        b.wait_for(r#"#llm-provider option[value="mistral"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let expected = definition(server, "mistral", "echo").await?;
        let shown = llm_body_shows(b, &expected).await?;
        assert_eq!(shown["type"], "function");
        assert_eq!(shown["function"]["name"], "echo");
        assert_eq!(shown["function"]["description"], "Echoes the input text.");
        assert_eq!(
            shown["function"]["parameters"]["properties"]["text"]["type"],
            "string"
        );
        assert_eq!(
            b.text_of("#llm-cli", PAGE_WAIT).await?,
            "atp-dev context llm-kit --provider mistral"
        );

        // Gemini: {"name", "description", "parameters"} in its OpenAPI subset.
        b.wait_for(r#"#llm-provider option[value="gemini"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let expected = definition(server, "gemini", "echo").await?;
        let shown = llm_body_shows(b, &expected).await?;
        assert_eq!(shown["name"], "echo");
        assert_eq!(shown["parameters"]["type"], "OBJECT");
        assert_eq!(shown["parameters"]["properties"]["text"]["type"], "STRING");
        assert_eq!(
            b.text_of("#llm-cli", PAGE_WAIT).await?,
            "atp-dev context llm-kit --provider gemini"
        );
        b.wait_for(r#"#llm-provider option[value="mistral"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;

        // Another tool while the view is open: its definition, same provider.
        b.wait_for(r#".tool[data-tool="search"]"#, PAGE_WAIT)
            .await?
            .click()
            .await?;
        let expected = definition(server, "mistral", "search").await?;
        let shown = llm_body_shows(b, &expected).await?;
        assert_eq!(shown["function"]["name"], "search");
        assert_eq!(
            shown["function"]["parameters"]["required"],
            json!(["query"])
        );
        Ok(())
    }
}
