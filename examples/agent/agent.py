"""Example agent: a chat model that may call a calculator tool.

The model is any OpenAI-compatible server: vLLM in a cluster, the Headwater simulator in
dev and tests (``HEADWATER_LLM_BASE_URL``). Ask it to "calculate 6*7" to see a tool call.
"""

from __future__ import annotations

import ast
import functools
import operator
import os
from typing import Any

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

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


TOOLS = [calculator]


@functools.cache
def _model() -> Any:
    llm = ChatOpenAI(
        base_url=os.environ.get("HEADWATER_LLM_BASE_URL", "http://127.0.0.1:8000/v1"),
        api_key=os.environ.get("HEADWATER_LLM_API_KEY", "EMPTY"),
        model=os.environ.get("HEADWATER_LLM_MODEL", "headwater-sim"),
        streaming=True,
        stream_usage=True,
        temperature=0,
        max_retries=1,
    )
    return llm.bind_tools(TOOLS)


async def chat(state: MessagesState, config: RunnableConfig) -> dict[str, list[AnyMessage]]:
    """Ask the model for the next message."""
    reply = await _model().ainvoke(state["messages"], config)
    return {"messages": [reply]}


def route(state: MessagesState) -> str:
    """Run the tools the model asked for, else finish."""
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "chat")
builder.add_conditional_edges("chat", route, ["tools", END])
builder.add_edge("tools", "chat")
graph = builder.compile(name="agent")
