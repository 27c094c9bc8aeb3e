"""Example agent: a chat model with a calculator and an e-mail tool that needs approval.

The model is any OpenAI-compatible server, reached with Headwater's lean client
(``headwater.llm.ChatOpenAICompatible``): vLLM in a cluster, the Headwater simulator in
dev and tests (``HEADWATER_LLM_BASE_URL``). With the simulator, "calculate 6*7" calls the
calculator; "send an email about the release" asks a human to approve ``send_email``
(the run stops at an interrupt; resume it with ``command={"resume": {"approved": true}}``).

Sampling parameters (``temperature``, ``max_tokens``, ``stop``, ``top_p``) may arrive in
``config["configurable"]["model_params"]``; the OpenAI-compatible front puts them there.
"""

from __future__ import annotations

import ast
import functools
import operator
import os
from typing import Annotated, Any

from langchain_core.messages import AnyMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from headwater.llm import ChatOpenAICompatible

_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
MODEL_PARAMS = ("temperature", "max_tokens", "stop", "top_p")


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError("only numbers and + - * / ** % are allowed")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as ``6*7`` or ``(2+3)**2``."""
    try:
        result = _evaluate(ast.parse(expression, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        return f"error: {exc}"
    return str(int(result) if float(result).is_integer() else result)


@tool
def send_email(to: str, subject: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Send an e-mail. A human approves every call before it runs."""
    sent = {"to": to, "subject": subject}
    return Command(
        update={
            "sent_emails": [sent],
            "messages": [ToolMessage(f"E-mail to {to} sent.", tool_call_id=tool_call_id)],
        }
    )


TOOLS = [calculator, send_email]
NEEDS_APPROVAL = {"send_email"}


class AgentState(MessagesState):
    """Messages plus a record of the e-mails actually sent."""

    sent_emails: Annotated[list[dict[str, str]], operator.add]


@functools.cache
def _model() -> Any:
    # Headwater's lean client: ChatOpenAI's interface at a third of its CPU per token
    # (docs/llm-client.md). ``ChatOpenAI(base_url=…)`` works here just the same.
    llm = ChatOpenAICompatible(
        base_url=os.environ.get("HEADWATER_LLM_BASE_URL", "http://127.0.0.1:8000/v1"),
        api_key=os.environ.get("HEADWATER_LLM_API_KEY", "EMPTY"),
        model=os.environ.get("HEADWATER_LLM_MODEL", "headwater-sim"),
        streaming=True,
        temperature=0,
        max_retries=1,
    )
    return llm.bind_tools(TOOLS)


async def chat(state: AgentState, config: RunnableConfig) -> dict[str, list[AnyMessage]]:
    """Ask the model for the next message."""
    requested = (config.get("configurable") or {}).get("model_params") or {}
    params = {k: v for k, v in requested.items() if k in MODEL_PARAMS and v is not None}
    model = _model().bind(**params) if params else _model()
    reply = await model.ainvoke(state["messages"], config)
    return {"messages": [reply]}


def route(state: AgentState) -> str:
    """Tools that need approval go through ``approve``; others run at once; else finish."""
    calls = getattr(state["messages"][-1], "tool_calls", None) or []
    if not calls:
        return END
    return "approve" if any(c["name"] in NEEDS_APPROVAL for c in calls) else "tools"


def approve(state: AgentState) -> Command:
    """Stop for a human: resume with ``{"approved": true}`` to run the tools, else reject."""
    calls = state["messages"][-1].tool_calls
    decision = interrupt(
        {
            "action": "approve_tool_calls",
            "tool_calls": [{"name": c["name"], "args": c["args"], "id": c["id"]} for c in calls],
        }
    )
    approved = decision.get("approved") if isinstance(decision, dict) else bool(decision)
    if approved:
        return Command(goto="tools")
    rejected = [
        ToolMessage("The user rejected this action.", tool_call_id=c["id"], name=c["name"])
        for c in calls
    ]
    return Command(goto="chat", update={"messages": rejected})


builder = StateGraph(AgentState)
builder.add_node("chat", chat)
builder.add_node("approve", approve, destinations=("tools", "chat"))
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "chat")
builder.add_conditional_edges("chat", route, ["approve", "tools", END])
builder.add_edge("tools", "chat")
graph = builder.compile(name="agent")
