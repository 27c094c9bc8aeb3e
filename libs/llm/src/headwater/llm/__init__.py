"""A lean LangChain chat model for vLLM and OpenAI-compatible servers (httpx + msgspec)."""

from headwater.llm.chat import ChatOpenAICompatible, ModelServerError

__all__ = ["ChatOpenAICompatible", "ModelServerError"]
