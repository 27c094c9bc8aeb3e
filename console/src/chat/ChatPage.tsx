// The chat playground: pick an assistant, pick or start a thread, stream a run with the official
// `useStream` hook, answer interrupts, and fork from a checkpoint in the side panel.
import type { Assistant, Message } from "@langchain/langgraph-sdk";
import { useStream } from "@langchain/langgraph-sdk/react";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { errorText } from "../api";
import { ErrorBox, parseJsonField, short, useLoad } from "../components/common";
import { useSession } from "../session";
import { InterruptCard } from "./InterruptCard";
import { Messages } from "./Messages";
import { StatePanel } from "./StatePanel";
import { ThreadList } from "./ThreadList";

type State = Record<string, unknown> & { messages?: Message[] };

/** Resolves the assistant first (the URL's, else the oldest: the first graph of langgraph.json),
 * so the stream hook never starts on one assistant and switches to another. */
export function ChatPage() {
  const { client } = useSession();
  const assistants = useLoad(
    () => client.assistants.search({ limit: 100, sortBy: "created_at", sortOrder: "asc" }),
    [client],
  );
  const [params] = useSearchParams();
  const chosen = params.get("assistant") ?? assistants.data?.[0]?.assistant_id;
  if (!chosen) {
    return (
      <main className="page">
        {assistants.error ? <ErrorBox error={assistants.error} retry={assistants.reload} /> : <p className="muted">Loading assistants…</p>}
        {assistants.data?.length === 0 && <p className="empty">No assistant: the project serves no graph.</p>}
      </main>
    );
  }
  return <Chat assistantId={chosen} assistants={assistants.data ?? []} />;
}

function Chat({ assistantId, assistants }: { assistantId: string; assistants: Assistant[] }) {
  const { client, checkAuth } = useSession();
  const [params, setParams] = useSearchParams();
  const threadId = params.get("thread");
  const schemas = useLoad(() => client.assistants.getSchemas(assistantId), [client, assistantId]);
  const inputProps = (schemas.data?.input_schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  const chatInput = !schemas.data || !inputProps || "messages" in inputProps;

  const [text, setText] = useState("");
  const [jsonInput, setJsonInput] = useState("{}");
  const [inputError, setInputError] = useState<string | null>(null);
  const [forkFrom, setForkFrom] = useState<string | null>(null);
  // The run last started here, shown while its thread is the one open (no reset effect: the
  // new thread's id reaches the URL after the run is created).
  const [lastRun, setLastRun] = useState<{ run_id: string; thread_id: string } | null>(null);
  const [threadsVersion, setThreadsVersion] = useState(0);

  const select = (next: Record<string, string | null>) => {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged);
  };

  const stream = useStream<State>({
    client,
    assistantId,
    threadId,
    messagesKey: "messages",
    fetchStateHistory: true,
    onThreadId: (id) => {
      select({ thread: id });
      setThreadsVersion((v) => v + 1);
    },
    onCreated: (run) => setLastRun(run),
    onFinish: () => setThreadsVersion((v) => v + 1),
    onError: (e) => checkAuth(e),
  });

  useEffect(() => setForkFrom(null), [threadId, assistantId]);

  // Follow the stream only while the reader is at the bottom (no jump when reading above).
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  });

  // A fork starts the run from that checkpoint of the thread (the root graph's namespace).
  const checkpoint = () => (forkFrom ? { checkpoint_id: forkFrom, checkpoint_ns: "", checkpoint_map: null } : undefined);
  const send = async () => {
    setInputError(null);
    try {
      if (chatInput) {
        if (!text.trim()) return;
        const message = { type: "human" as const, content: text };
        setText("");
        pinned.current = true;
        await stream.submit(
          { messages: [message] },
          {
            checkpoint: checkpoint(),
            optimisticValues: forkFrom ? undefined : (prev) => ({ ...prev, messages: [...(prev.messages ?? []), message] }),
            streamSubgraphs: true,
          },
        );
      } else {
        const input = parseJsonField(jsonInput, "The input");
        await stream.submit((input ?? null) as State | null, { checkpoint: checkpoint(), streamSubgraphs: true });
      }
      setForkFrom(null);
    } catch (e) {
      setInputError(errorText(e));
    }
  };
  const resume = (value: unknown) => {
    pinned.current = true;
    void stream.submit(null, { command: { resume: value }, streamSubgraphs: true });
  };

  const values = stream.values;
  const messages = (stream.messages ?? []) as Message[];
  const interruptValue = stream.interrupt?.value;
  return (
    <main className="chat-layout">
      <ThreadList selected={threadId} onSelect={(id) => select({ thread: id })} refreshKey={threadsVersion} />
      <section className="conversation" aria-label="Conversation">
        <div className="conv-head">
          <label>
            Assistant{" "}
            <select
              value={assistantId}
              onChange={(e) => select({ assistant: e.target.value, thread: null })}
              aria-label="Assistant"
            >
              {(assistants.length ? assistants : [{ assistant_id: assistantId, graph_id: assistantId, name: assistantId }]).map((a) => (
                <option key={a.assistant_id} value={a.assistant_id}>
                  {a.name && a.name !== a.graph_id ? `${a.name} (${a.graph_id})` : a.graph_id}
                </option>
              ))}
            </select>
          </label>
          <span className="muted run-status" aria-live="polite">
            {threadId ? `thread ${short(threadId)}` : "new thread"}
            {stream.isLoading ? " · streaming…" : ""}
            {lastRun && lastRun.thread_id === threadId && (
              <>
                {" · "}
                <Link to={`/runs/${lastRun.run_id}`} data-testid="last-run-link">
                  run {short(lastRun.run_id)}
                </Link>
              </>
            )}
          </span>
        </div>
        <div
          className="messages"
          ref={scroller}
          data-testid="messages"
          onScroll={(e) => {
            const el = e.currentTarget;
            pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
          }}
        >
          {messages.length === 0 && !stream.isThreadLoading && (
            <p className="muted pad">{chatInput ? "Say something to start a run." : "This graph takes a JSON input below."}</p>
          )}
          <Messages messages={messages} />
          {interruptValue !== undefined && !stream.isLoading && (
            <InterruptCard value={interruptValue} busy={stream.isLoading} onResume={resume} />
          )}
          {stream.error !== undefined && stream.error !== null && (
            <div className="error-box" role="alert" data-testid="run-error">
              <strong>Run failed</strong> <span>{errorText(stream.error)}</span>
            </div>
          )}
        </div>
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          {forkFrom && (
            <div className="fork-note">
              Forking from checkpoint {short(forkFrom)}{" "}
              <button type="button" className="small" onClick={() => setForkFrom(null)}>
                cancel
              </button>
            </div>
          )}
          {inputError && <p className="error">{inputError}</p>}
          <div className="row">
            {chatInput ? (
              <textarea
                aria-label="Message"
                rows={2}
                value={text}
                placeholder="Message (Enter to send, Shift+Enter for a new line)"
                onChange={(e) => setText(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) {
                    e.preventDefault();
                    void send();
                  }
                }}
              />
            ) : (
              <textarea
                aria-label="Input (JSON)"
                rows={3}
                value={jsonInput}
                spellCheck={false}
                onChange={(e) => setJsonInput(e.target.value)}
              />
            )}
            {stream.isLoading ? (
              <button type="button" onClick={() => void stream.stop()}>
                Stop
              </button>
            ) : (
              <button type="submit" className="primary">
                {forkFrom ? "Fork" : "Send"}
              </button>
            )}
          </div>
        </form>
      </section>
      <StatePanel values={values} history={stream.history ?? []} forkFrom={forkFrom} onFork={setForkFrom} />
    </main>
  );
}
