"""``/memories/…``: durable facts the LLM extracts from a conversation, and their retrieval."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, JSONBody

from headwater.common.memory_contract import PutItem, SearchItems
from headwater.memory.extraction import extract_facts
from headwater.memory.routes import owner_of
from headwater.memory.schemas import Extract
from headwater.memory.service import StoreService


@post("/memories/extract", status_code=200)
async def extract(
    state: State, request: Request[Any, Any, Any], data: JSONBody[Extract]
) -> dict[str, Any]:
    """Ask the LLM for durable facts in a conversation and save them under the user."""
    if not data.user_id or not data.conversation:
        raise HTTPException(
            status_code=400, detail="user_id and a non-empty conversation are required"
        )
    if state.llm is None:
        raise HTTPException(status_code=503, detail="no LLM configured (HEADWATER_LLM_BASE_URL)")
    facts = await extract_facts(state.llm, state.settings.llm_model, data.conversation)
    saved = [{"key": str(uuid.uuid5(uuid.NAMESPACE_URL, fact)), "text": fact} for fact in facts]
    service: StoreService = state.service
    puts = [
        PutItem(namespace=["memories", data.user_id], key=m["key"], value={"text": m["text"]})
        for m in saved
    ]
    if puts:
        await service.execute(owner_of(request), puts)
    return {"memories_saved": len(saved), "memories": saved}


@get("/memories/relevant")
async def relevant(
    state: State,
    request: Request[Any, Any, Any],
    user_id: FromQuery[str],
    prompt: FromQuery[str],
    limit: FromQuery[int] = 5,
) -> dict[str, Any]:
    """The user's memories most relevant to ``prompt``, best first."""
    if not prompt.strip() or not 1 <= limit <= 100:
        raise HTTPException(status_code=400, detail="a prompt and 1 <= limit <= 100 are required")
    service: StoreService = state.service
    search = SearchItems(namespace_prefix=["memories", user_id], query=prompt, limit=limit)
    items = (await service.execute(owner_of(request), [search]))[0]
    return {
        "memories": [
            {"key": i["key"], "text": i["value"].get("text"), "score": i["score"]} for i in items
        ]
    }


ROUTES = [extract, relevant]
