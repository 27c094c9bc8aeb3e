"""Who is asking and what they may do: API keys and JWTs (middleware), LangGraph custom auth, ownership."""
