"""Puts load on an MCP server over streamable HTTP with the official Python MCP client.

Usage: python mcp_load.py URL CONFIG

CONFIG is a JSON object: {"workers": W, "calls": N, "tool": T, "arguments": A,
"call_timeout": S (default 10), "signal_after": K (default: never)}. W workers, each with a
`ClientSession` of its own (`initialize()`, protocol 2025-11-25) over `streamable_http_client`,
make N calls of T with A in all, one at a time each. A call that fails (an HTTP error, a
connection reset, an MCP error) is recorded with what it raised, and that worker opens a new
session before its next call; a call that takes longer than S seconds is recorded as hung.

After K calls have ended the script prints `signal` on a line of its own to stderr, once, and
then takes one line from stdin: the driving test writes it when it has done what it does
under load (kills a replica); the moment it arrives is `marked`, on the clock of the calls.

Prints one JSON document to stdout: {"mcp_version", "marked": M or null, "calls": [{"worker",
"start", "end", "ok": V (the structured content's "result", or the text) | "raised": "...",
"hung": bool}, ...]}, the times in seconds since the first call started.
"""

import json
import sys
import time
from importlib.metadata import version

import anyio
import httpx2
from anyio import to_thread
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

url, config = sys.argv[1], json.loads(sys.argv[2])
WORKERS = int(config["workers"])
CALLS = int(config["calls"])
TOOL = config["tool"]
ARGUMENTS = config.get("arguments", {})
CALL_TIMEOUT = float(config.get("call_timeout", 10))
SIGNAL_AFTER = config.get("signal_after")
T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def raised(err):
    # An ExceptionGroup from a task group: its first leaf says what happened.
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}"[:300]


class Run:
    def __init__(self):
        self.left = CALLS
        self.ended = 0
        self.calls = []
        self.marked = None
        self.signalled = False

    def take(self):
        if self.left == 0:
            return False
        self.left -= 1
        return True

    async def ended_one(self, record):
        self.calls.append(record)
        self.ended += 1
        if SIGNAL_AFTER is not None and not self.signalled and self.ended >= SIGNAL_AFTER:
            self.signalled = True
            print("signal", file=sys.stderr, flush=True)
            await to_thread.run_sync(sys.stdin.readline)
            self.marked = now()


def value_of(result):
    if result.structured_content is not None:
        structured = result.structured_content
        return structured.get("result", structured) if isinstance(structured, dict) else structured
    return "\n".join(block.text for block in result.content if getattr(block, "text", None) is not None)


async def session_calls(run, index, http, failed):
    """Calls on one session until the calls run out, or one fails (`failed` is set)."""
    async with streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(CALL_TIMEOUT):
                await session.initialize()
            while run.take():
                start = now()
                record = {"worker": index, "start": start, "hung": False}
                try:
                    with anyio.fail_after(CALL_TIMEOUT):
                        result = await session.call_tool(TOOL, ARGUMENTS)
                    if result.is_error:
                        record["raised"] = f"tool error: {value_of(result)}"
                    else:
                        record["ok"] = value_of(result)
                except TimeoutError as err:
                    record["hung"] = True
                    record["raised"] = raised(err)
                except Exception as err:  # noqa: BLE001 - what failed is the finding
                    record["raised"] = raised(err)
                record["end"] = now()
                await run.ended_one(record)
                if "raised" in record:
                    failed.append(record)
                    return


async def worker(run, index):
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(CALL_TIMEOUT)) as http:
        while run.left > 0:
            failed = []
            start = now()
            try:
                await session_calls(run, index, http, failed)
            except Exception as err:  # noqa: BLE001 - the session broke
                # A session that broke before a call failed (its initialize, say) is
                # counted as a failed call: it would have carried one.
                if not failed and run.take():
                    await run.ended_one(
                        {"worker": index, "start": start, "end": now(), "hung": False,
                         "raised": f"session: {raised(err)}"}
                    )


async def main():
    run = Run()
    with anyio.fail_after(CALL_TIMEOUT * (CALLS // WORKERS + 10)):
        async with anyio.create_task_group() as group:
            for index in range(WORKERS):
                group.start_soon(worker, run, index)
    print(json.dumps({"mcp_version": version("mcp"), "marked": run.marked, "calls": run.calls}))


anyio.run(main)
