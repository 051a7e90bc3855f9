"""A backend for the gateway tests written with the official MCP Python SDK (``MCPServer``), run as
``python gateway_sdk_backend.py PORT``.

It sends what our own server does not: messages of a call on that call's response stream (log
messages, an elicitation, progress), and ``notifications/tools/list_changed`` when its tool list
grows. Tools:

* ``chatty``: logs ``"one"`` (info) and ``{"n": 2}`` (warning, logger ``sdk``), answers ``"chatted"``;
* ``greet``: elicits a ``name`` and answers ``"Hello NAME"`` (``"declined"`` unless accepted);
* ``steps``: reports progress 1/2 and 2/2, pauses 0.3 s, answers ``"stepped"``;
* ``grow``: adds the tool ``grown`` (answers ``"grown!"``) and announces the change.

It also serves the resource ``sdk://greeting`` (text ``"hi from the SDK"``) and the prompt
``welcome(who)``.
"""

from __future__ import annotations

import sys
import warnings

import anyio

from pydantic import BaseModel

from mcp.server.mcpserver import Context, MCPServer

warnings.simplefilter("ignore")

server = MCPServer("sdk-backend")


class Name(BaseModel):
    name: str


@server.tool()
async def chatty(ctx: Context) -> str:
    await ctx.log("info", "one")
    await ctx.log("warning", {"n": 2}, logger_name="sdk")
    return "chatted"


@server.tool()
async def greet(ctx: Context) -> str:
    answer = await ctx.elicit("Your name?", Name)
    if answer.action != "accept":
        return "declined"
    return f"Hello {answer.data.name}"


@server.tool()
async def steps(ctx: Context) -> str:
    await ctx.report_progress(1, 2, "one")
    await ctx.report_progress(2, 2, "two")
    # The gateway relays progress to a session-era caller on its session stream, while the result
    # goes back on the POST: a pause lets the last report land before the result ends the request
    # (after which the client drops progress of that request).
    await anyio.sleep(0.3)
    return "stepped"


def grown() -> str:
    return "grown!"


@server.tool()
async def grow(ctx: Context) -> str:
    server.add_tool(grown)
    await ctx.session.send_tool_list_changed()
    return "added"


@server.resource("sdk://greeting")
def greeting() -> str:
    return "hi from the SDK"


@server.prompt()
def welcome(who: str) -> str:
    return f"Welcome, {who}!"


if __name__ == "__main__":
    server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
