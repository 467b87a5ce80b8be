"""A toolkit written with the unmodified reference client (AgentToolProtocol 0.2.5).

Usage: python toolkit.py BASE_URL API_KEY [ws|http]
"""
import sys

from atp_sdk import ToolKitClient

base_url, api_key = sys.argv[1], sys.argv[2]
protocol = sys.argv[3] if len(sys.argv) > 3 else "ws"

client = ToolKitClient(
    api_key=api_key,
    app_name="py-reference",
    base_url=base_url,
    protocol=protocol,
    auto_restart=False,
)


@client.register_tool(
    function_name="add_numbers",
    params=["a", "b"],
    required_params=["a", "b"],
    description="Adds two numbers.",
    auth_provider=None,
    auth_type=None,
    auth_with=None,
)
def add_numbers(a, b):
    return {"sum": a + b}


@client.register_tool(
    function_name="show_token",
    params=["label"],
    required_params=["label"],
    description="Reports the label and whether a token came.",
    auth_provider="hubspot",
    auth_type="OAuth2",
    auth_with="access_token",
)
def show_token(label, auth_token=None):
    return {"label": label, "token_length": len(auth_token or "")}


client.start()
