"""The benchmark's tools, served by the unmodified reference client
(AgentToolProtocol 0.2.5). Its tools are plain functions, so the 10 ms
"async" and "blocking" tools are the same function here.

Usage: python reference_toolkit.py [MANY]   (ATP_BASE_URL, ATP_API_KEY,
ATP_APP_NAME from the environment; MANY adds filler tools up to that many)
"""
import logging
import os
import sys
import time

from atp_sdk import ToolKitClient

# The client logs every request at INFO; the benchmark measures serving,
# not the terminal, so keep its logging to warnings (a favour to it).
logging.getLogger().setLevel(logging.WARNING)
logging.getLogger("atp_sdk").setLevel(logging.WARNING)
logging.getLogger("atp_sdk.clients").setLevel(logging.WARNING)

client = ToolKitClient(
    api_key=os.environ["ATP_API_KEY"],
    app_name=os.environ["ATP_APP_NAME"],
    base_url=os.environ["ATP_BASE_URL"],
    protocol="ws",
    auto_restart=False,
)


@client.register_tool(function_name="echo", params=["text"], required_params=["text"],
                      description="Echoes the text.", auth_provider=None, auth_type=None, auth_with=None)
def echo(text):
    return {"echo": text}


@client.register_tool(function_name="wait_async", params=["ms"], required_params=["ms"],
                      description="Waits ms milliseconds.", auth_provider=None, auth_type=None, auth_with=None)
def wait_async(ms):
    time.sleep(ms / 1000)
    return ms


@client.register_tool(function_name="sleep_blocking", params=["ms"], required_params=["ms"],
                      description="Sleeps ms milliseconds.", auth_provider=None, auth_type=None, auth_with=None)
def sleep_blocking(ms):
    time.sleep(ms / 1000)
    return ms


many = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for i in range(3, many):
    def filler(n=i):
        return n
    client.register_tool(function_name=f"tool_{i:03}", params=[], required_params=[],
                         description="A filler tool.", auth_provider=None, auth_type=None,
                         auth_with=None)(filler)

client.start()
