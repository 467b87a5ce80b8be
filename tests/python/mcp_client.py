"""Drives the official Python MCP client (the `mcp` package, 2.x) against an MCP server.

Usage: python mcp_client.py stdio COMMAND session|client < SCRIPT
       python mcp_client.py http URL session|client|raw < SCRIPT

stdio starts COMMAND as the server (`stdio_client(StdioServerParameters(...))`); its
environment is SCRIPT's "env", merged by the SDK over its safe default environment (HOME,
PATH, ...), not over this process's. http connects to URL with `streamable_http_client`,
over an httpx2 client that sends SCRIPT's "headers" with every request.

The mode: session is the low-level `ClientSession` with its `initialize()` handshake (the
legacy lifecycle, protocol 2025-11-25); client is the high-level `mcp.Client` in its default
mode ("auto": it probes `server/discover` and may adopt 2026-07-28, falling back to the
handshake); raw (http only) opens no MCP session, for the `post` operations.

SCRIPT is a JSON object read from stdin: {"env": {...}, "headers": {...}, "operations": [...]},
and what the client answers when the server asks it (SCRIPT's "elicit": the ElicitResult to
answer `elicitation/create` with, e.g. {"action": "accept", "content": {...}}; "sample": the
text to answer `sampling/createMessage` with), and "log_level": the level the high-level
client opts in to on 2026-07-28 (its `log_level`; a session sets one with `set_level`). A
client with "elicit" or "sample" declares that capability; every log line, elicitation and
sampling request it receives is reported.
Each operation has a "name" (unique) and an "op":
  {"op": "list_tools"}                         -> {"tools": [Tool, ...], "next_cursor": C}
  {"op": "call", "tool": T, "arguments": A}    -> R
  {"op": "call", "tool": T, "arguments": A, "progress": true}
        with a progress_callback               -> R with "progress": [[progress, total, message], ...]
  {"op": "set_level", "level": L}              -> null (`logging/setLevel`)
  {"op": "concurrently", "calls": [{"tool": T, "arguments": A}, ...]}
        all at once in one anyio task group    -> [R or {"raised": ...}, ...]
  {"op": "abandon", "tool": T, "arguments": A, "after": S}
        the call inside `anyio.move_on_after(S)` (the SDK then sends notifications/cancelled)
                                               -> {"abandoned": bool, "result": R or null}
  {"op": "poll", "tool": T, "arguments": A, "above": NAME, "within": S}
        calls T every 20 ms until each number in its structured content is greater than in
        the earlier operation NAME's, or S seconds pass
                                               -> {"reached": bool, "polls": N, "result": R}
  {"op": "post", "headers": {...}, "body": B}  a plain httpx2 POST of B (JSON) to URL
                                               -> {"status": N, "body": TEXT}
where R is a tool result: {"is_error", "text" (its text blocks joined by newlines),
"content" (every block), "structured" (structuredContent or null)}.

Prints one JSON document to stdout (the server's log and the SDK's go to stderr):
{"mcp_version", "protocol_version", "server_info", "results": {NAME: {"ok": V} | {"raised": "<Type>: <message>"}},
 "logs": [{"level", "logger", "data"}, ...], "elicited": [{"message", "requestedSchema"}, ...],
 "sampled": [CreateMessageRequestParams, ...]}.
Every operation is bounded by SCRIPT's "step_timeout" (default 20 s), the whole run (connect,
operations, close) by its "timeout" (default 60 s). The test asserts on the output; this
script only runs the client and reports what it saw.
"""

import json
import sys
from contextlib import AsyncExitStack
from importlib.metadata import PackageNotFoundError, version

try:
    MCP_VERSION = version("mcp")
except PackageNotFoundError:
    sys.exit(f"mcp_client.py needs the mcp package 2.x; {sys.executable} has none (pip install 'mcp==2.3.0')")
if not MCP_VERSION.startswith("2."):
    sys.exit(f"mcp_client.py needs the mcp package 2.x; this Python has mcp {MCP_VERSION}")

import anyio  # noqa: E402
import httpx2  # noqa: E402
import mcp_types  # noqa: E402
from mcp import Client, ClientSession, StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

transport, target, mode = sys.argv[1], sys.argv[2], sys.argv[3]
script = json.load(sys.stdin)
STEP_TIMEOUT = float(script.get("step_timeout", 20))
TOTAL_TIMEOUT = float(script.get("timeout", 60))
# The SDK's own defaults for its transports: 30 s, and 300 s to read (a response stream may
# stay open for long).
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def tool_result(result):
    return {
        "is_error": bool(result.is_error),
        "text": "\n".join(block.text for block in result.content if block.type == "text"),
        "content": [dump(block) for block in result.content],
        "structured": result.structured_content,
    }


# What the server sent the client besides results.
LOGS, ELICITED, SAMPLED = [], [], []


async def on_log(params):
    LOGS.append({"level": params.level, "logger": params.logger, "data": params.data})


async def on_elicit(context, params):
    ELICITED.append(dump(params))
    return mcp_types.ElicitResult(**script["elicit"])


async def on_sample(context, params):
    SAMPLED.append(dump(params))
    return mcp_types.CreateMessageResult(
        role="assistant",
        content=mcp_types.TextContent(type="text", text=script["sample"]),
        model="a-test-model",
        stop_reason="endTurn",
    )


def callbacks():
    """The callbacks the client is given: logs always; elicitation and sampling (and so their
    capabilities) only when SCRIPT says how to answer."""
    given = {"logging_callback": on_log}
    if "elicit" in script:
        given["elicitation_callback"] = on_elicit
    if "sample" in script:
        given["sampling_callback"] = on_sample
    return given


def raised(err):
    return {"raised": f"{type(err).__name__}: {err}"}


def exceeds(now, before):
    """Whether every number in `before` has grown in `now`."""
    numbers = {k: v for k, v in (before or {}).items() if isinstance(v, (int, float))}
    return bool(numbers) and all(isinstance(now.get(k), (int, float)) and now[k] > v for k, v in numbers.items())


async def run(session, http, results, operation):
    op = operation["op"]
    if op == "list_tools":
        listed = await session.list_tools()
        return {"tools": [dump(tool) for tool in listed.tools], "next_cursor": listed.next_cursor}
    if op == "call":
        if not operation.get("progress"):
            return tool_result(await session.call_tool(operation["tool"], operation.get("arguments", {})))
        progress = []

        async def on_progress(done, total, message):
            progress.append([done, total, message])

        result = tool_result(
            await session.call_tool(operation["tool"], operation.get("arguments", {}), progress_callback=on_progress)
        )
        return {**result, "progress": progress}
    if op == "set_level":
        await session.set_logging_level(operation["level"])
        return None
    if op == "concurrently":
        calls = operation["calls"]
        outcomes = [None] * len(calls)

        async def one(i, call):
            try:
                outcomes[i] = tool_result(await session.call_tool(call["tool"], call.get("arguments", {})))
            except Exception as err:
                outcomes[i] = raised(err)

        async with anyio.create_task_group() as group:
            for i, call in enumerate(calls):
                group.start_soon(one, i, call)
        return outcomes
    if op == "abandon":
        result = None
        with anyio.move_on_after(operation["after"]) as scope:
            result = tool_result(await session.call_tool(operation["tool"], operation.get("arguments", {})))
        return {"abandoned": scope.cancelled_caught, "result": result}
    if op == "poll":
        before = results[operation["above"]]["ok"]["structured"]
        polls, result = 0, None
        with anyio.move_on_after(operation.get("within", 10)):
            while True:
                polls += 1
                result = tool_result(await session.call_tool(operation["tool"], operation.get("arguments", {})))
                if exceeds(result["structured"] or {}, before):
                    return {"reached": True, "polls": polls, "result": result}
                await anyio.sleep(0.02)
        return {"reached": False, "polls": polls, "result": result}
    if op == "post":
        response = await http.post(target, headers=operation.get("headers", {}), json=operation["body"])
        return {"status": response.status_code, "body": response.text}
    raise ValueError(f"unknown operation {op!r}")


async def connect(stack):
    """Opens the MCP session (None in raw mode) and an httpx2 client (None over stdio)."""
    if transport == "stdio":
        server = StdioServerParameters(command=target, args=[], env=script.get("env", {}))
        http = None
    elif transport == "http":
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=script.get("headers", {}), timeout=HTTP_TIMEOUT))
        if mode == "raw":
            return None, http
        server = streamable_http_client(target, http_client=http)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    if mode == "session":
        opened = stdio_client(server) if transport == "stdio" else server
        read, write = await stack.enter_async_context(opened)
        session = await stack.enter_async_context(ClientSession(read, write, **callbacks()))
        await session.initialize()
        return session, http
    if mode == "client":
        client = Client(server, log_level=script.get("log_level"), **callbacks())
        return await stack.enter_async_context(client), http
    raise ValueError(f"unknown mode {mode!r}")


def session_facts(session):
    """The negotiated protocol version and the server's name and version (both None in raw mode)."""
    if session is None:
        return None, None
    info = session.server_info
    return session.protocol_version, (dump(info) if info is not None else None)


async def main():
    results = {}
    # The connection's context managers run task groups: one deadline around all of it, and
    # one per operation inside.
    with anyio.fail_after(TOTAL_TIMEOUT):
        async with AsyncExitStack() as stack:
            session, http = await connect(stack)
            protocol_version, server_info = session_facts(session)
            for operation in script["operations"]:
                try:
                    with anyio.fail_after(STEP_TIMEOUT):
                        results[operation["name"]] = {"ok": await run(session, http, results, operation)}
                except Exception as err:  # reported to the test, which fails on it
                    results[operation["name"]] = raised(err)
    json.dump(
        {
            "mcp_version": MCP_VERSION,
            "protocol_version": protocol_version,
            "server_info": server_info,
            "results": results,
            "logs": LOGS,
            "elicited": ELICITED,
            "sampled": SAMPLED,
        },
        sys.stdout,
    )
    sys.stdout.flush()


anyio.run(main)
