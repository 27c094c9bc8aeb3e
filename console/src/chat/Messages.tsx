// The conversation: human and AI messages as text, each AI tool call folded with its result.
import type { Message } from "@langchain/langgraph-sdk";
import { Json } from "../components/common";

export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((block) =>
        typeof block === "string" ? block : (block as { text?: unknown })?.text !== undefined ? String((block as { text: unknown }).text) : "",
      )
      .join("");
  }
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

interface ToolCallView {
  id: string;
  call: { name: string; args: unknown; id?: string };
  result: { content: unknown; status?: string } | undefined;
}

/** Each AI message's tool calls, paired with the tool message that answered it. */
function pairToolCalls(messages: Message[]): Map<Message, ToolCallView[]> {
  const results = new Map<string, ToolCallView["result"]>();
  for (const m of messages) if (m.type === "tool") results.set(m.tool_call_id, m);
  const paired = new Map<Message, ToolCallView[]>();
  for (const m of messages) {
    if (m.type !== "ai") continue;
    paired.set(
      m,
      (m.tool_calls ?? []).map((call, i) => ({
        id: call.id ?? `${m.id}-${i}`,
        call: { name: call.name, args: call.args, id: call.id },
        result: call.id ? results.get(call.id) : undefined,
      })),
    );
  }
  return paired;
}

export function Messages({ messages }: { messages: Message[] }) {
  const paired = pairToolCalls(messages);
  const answeredToolIds = new Set<string>();
  for (const calls of paired.values()) for (const t of calls) if (t.result && t.call.id) answeredToolIds.add(t.call.id);
  return (
    <>
      {messages.map((m, i) => {
        if (m.type === "tool") {
          if (answeredToolIds.has(m.tool_call_id)) return null; // shown folded under its call
          return (
            <div key={m.id ?? i} className="msg msg-tool">
              <span className="role">tool</span>
              <div className="text">{messageText(m.content)}</div>
            </div>
          );
        }
        const text = messageText(m.content);
        const calls = paired.get(m) ?? [];
        return (
          <div key={m.id ?? i} className={`msg msg-${m.type}`} data-testid={`msg-${m.type}`}>
            <span className="role">{m.type === "human" ? "you" : m.type === "ai" ? "assistant" : m.type}</span>
            {text && <div className="text">{text}</div>}
            {calls.map((t) => (
              <details key={t.id} className="tool-call" data-testid="tool-call">
                <summary>
                  <span className="tool-name">{t.call.name}</span>
                  <span className="muted"> {t.result ? "→ " + messageText(t.result.content).slice(0, 80) : "(no result yet)"}</span>
                </summary>
                <div className="tool-body">
                  <div className="label">arguments</div>
                  <Json value={t.call.args} />
                  {t.result && (
                    <>
                      <div className="label">result</div>
                      <pre className="json">{messageText(t.result.content)}</pre>
                    </>
                  )}
                </div>
              </details>
            ))}
          </div>
        );
      })}
    </>
  );
}
