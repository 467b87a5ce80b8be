"""The official Python MCP server (`mcp` 2.x, MCPServer) serving the
benchmark's echo tool, for the MCP rows of atp-bench.

usage: python mcp_server.py stdio
       python mcp_server.py http PORT
"""
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("bench-python", log_level="WARNING")


@mcp.tool()
def echo(text: str) -> dict[str, Any]:
    """Echoes the text back."""
    return {"echo": text}


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        mcp.run()
    else:
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
