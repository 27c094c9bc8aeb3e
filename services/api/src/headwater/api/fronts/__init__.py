"""Protocol fronts over the same runs: OpenAI chat completions, simple runs, WebSocket chat."""
