"""Drives the unmodified reference LLMClient (AgentToolProtocol 0.2.5).

Usage: python llm_client.py BASE_URL API_KEY ws|http < OPERATIONS

OPERATIONS is a JSON list read from stdin; each item is one of
  {"op": "context", "toolkit": T, "user_prompt": U, "provider": P}
  {"op": "call_tool", "toolkit": T, "provider": P, "tool_calls": [...],
   "auth_token": A (optional), "user_prompt": U (optional), "timeout": S (optional)}
Prints one JSON document to stdout, {"results": [R, ...]}, one R per
operation: {"ok": <what the client returned>} or {"raised": "<Type>: <message>"}
(the client logs to stderr). The test asserts on it; this script only runs
the client.
"""
import json
import sys

from atp_sdk import LLMClient

base_url, api_key, protocol = sys.argv[1], sys.argv[2], sys.argv[3]
operations = json.load(sys.stdin)

# Over "ws" the constructor connects and authenticates.
client = LLMClient(api_key, protocol=protocol, base_url=base_url)

results = []
for operation in operations:
    try:
        if operation["op"] == "context":
            value = client.get_toolkit_context(
                operation["toolkit"],
                operation["user_prompt"],
                provider=operation["provider"],
            )
        elif operation["op"] == "call_tool":
            value = client.call_tool(
                operation["toolkit"],
                operation["tool_calls"],
                provider=operation["provider"],
                auth_token=operation.get("auth_token"),
                user_prompt=operation.get("user_prompt"),
                timeout=operation.get("timeout", 30),
            )
        else:
            raise ValueError(f"unknown operation {operation['op']!r}")
        results.append({"ok": value})
    except Exception as err:  # reported to the test, which fails on it
        results.append({"raised": f"{type(err).__name__}: {err}"})

json.dump({"results": results}, sys.stdout)
sys.stdout.flush()
