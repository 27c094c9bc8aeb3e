"""msgspec schemas of every bus message.

Rules: frozen, tagged with a stable dotted tag, new fields only with defaults, unknown
fields tolerated so that older workers read newer messages.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class RunRequest(msgspec.Struct, frozen=True, kw_only=True, tag="run.requested", tag_field="type"):
    """Ask a worker to execute one run of a graph on a thread."""

    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] | None = None
    stream_mode: list[str] = msgspec.field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    interrupt_before: list[str] | Literal["*"] | None = None
    interrupt_after: list[str] | Literal["*"] | None = None
    checkpoint: dict[str, Any] | None = None
    temporary: bool = False
    owner: str = ""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    webhook: str | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class RunControl(msgspec.Struct, frozen=True, kw_only=True, tag="run.control", tag_field="type"):
    """Tell the worker holding a run to stop it."""

    run_id: str
    action: Literal["interrupt", "rollback"] = "interrupt"


class RunEnd(msgspec.Struct, frozen=True, kw_only=True, tag="run.ended", tag_field="type"):
    """Body of the internal ``__end__`` event: the run's final status and ``/wait`` body."""

    run_id: str
    status: str
    result: msgspec.Raw = msgspec.Raw(b"null")


class GraphRequest(
    msgspec.Struct, frozen=True, kw_only=True, tag="graph.request", tag_field="type"
):
    """Work the API cannot do without the compiled graph, answered by any worker."""

    op: Literal[
        "state", "history", "update_state", "graph", "schemas", "subgraphs", "copy", "prune"
    ]
    graph_id: str
    thread_id: str
    checkpoint_id: str | None = None
    subgraphs: bool = False
    owner: str = ""
    limit: int = 10
    before: str | None = None
    metadata: dict[str, Any] | None = None
    values: Any = None
    as_node: str | None = None
    checkpoint_ns: str = ""
    xray: int | bool = False
    namespace: str | None = None
    recurse: bool = False
    target_thread_id: str | None = None
    thread_ids: list[str] = msgspec.field(default_factory=list)
    strategy: Literal["delete", "keep_latest"] = "delete"


class GraphReply(msgspec.Struct, frozen=True, kw_only=True, tag="graph.reply", tag_field="type"):
    """A worker's answer: an HTTP-like status and a JSON body."""

    status: int = 200
    body: msgspec.Raw = msgspec.Raw(b"null")
    detail: str | None = None


BusMessage = RunRequest | RunControl | RunEnd | GraphRequest | GraphReply

encoder = msgspec.json.Encoder()
run_request_decoder = msgspec.json.Decoder(RunRequest)
run_control_decoder = msgspec.json.Decoder(RunControl)
run_end_decoder = msgspec.json.Decoder(RunEnd)
graph_request_decoder = msgspec.json.Decoder(GraphRequest)
graph_reply_decoder = msgspec.json.Decoder(GraphReply)
