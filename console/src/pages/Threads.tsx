// Browse threads: search by metadata and status; one thread's state and checkpoint history.
import type { ThreadStatus } from "@langchain/langgraph-sdk";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { errorText } from "../api";
import { ago, Empty, ErrorBox, Json, parseJsonField, short, shortCheckpoint, Status, useLoad } from "../components/common";
import { useSession } from "../session";

function ThreadDetail({ threadId }: { threadId: string }) {
  const { client } = useSession();
  const state = useLoad(() => client.threads.getState(threadId), [client, threadId]);
  const history = useLoad(() => client.threads.getHistory(threadId, { limit: 50 }), [client, threadId]);
  return (
    <section className="panel detail" aria-label="Thread detail">
      <h2>
        Thread <span className="mono">{threadId}</span>{" "}
        <Link to={`/?thread=${threadId}`} className="small-text">
          open in chat
        </Link>
      </h2>
      <ErrorBox error={state.error ?? history.error} />
      <h3>State {state.data?.next.length ? <span className="muted">next: {state.data.next.join(", ")}</span> : null}</h3>
      <Json value={state.data?.values} />
      <h3>History</h3>
      {history.data?.length === 0 && <Empty>No checkpoints.</Empty>}
      <ol className="history">
        {(history.data ?? []).map((h) => (
          <li key={h.checkpoint.checkpoint_id ?? ""}>
            <details>
              <summary>
                step {String((h.metadata as { step?: unknown } | null)?.step ?? "?")}{" "}
                <span className="muted">
                  {shortCheckpoint(h.checkpoint.checkpoint_id)} · {ago(h.created_at)} {h.next.length ? `→ ${h.next.join(", ")}` : ""}
                </span>
              </summary>
              <Json value={h.values} />
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function ThreadsPage() {
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const selected = params.get("thread");
  const [status, setStatus] = useState("");
  const [metadata, setMetadata] = useState("");
  const [query, setQuery] = useState<{ status: string; metadata: Record<string, unknown> | undefined }>({ status: "", metadata: undefined });
  const [formError, setFormError] = useState<string | null>(null);
  const threads = useLoad(
    () =>
      client.threads.search({
        status: (query.status || undefined) as ThreadStatus | undefined,
        metadata: query.metadata,
        limit: 100,
        sortBy: "updated_at",
        sortOrder: "desc",
      }),
    [client, query],
  );
  return (
    <main className="page split">
      <section className="panel">
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            try {
              setQuery({ status, metadata: parseJsonField(metadata, "Metadata") as Record<string, unknown> | undefined });
              setFormError(null);
            } catch (err) {
              setFormError(errorText(err));
            }
          }}
        >
          <label>
            Status{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              {["", "idle", "busy", "interrupted", "error"].map((s) => (
                <option key={s} value={s}>
                  {s || "any"}
                </option>
              ))}
            </select>
          </label>
          <label>
            Metadata <input value={metadata} onChange={(e) => setMetadata(e.target.value)} placeholder='{"graph_id": "agent"}' />
          </label>
          <button type="submit">Search</button>
        </form>
        {formError && <p className="error">{formError}</p>}
        <ErrorBox error={threads.error} retry={threads.reload} />
        {threads.data?.length === 0 && <Empty>No thread matches.</Empty>}
        <ul className="list">
          {(threads.data ?? []).map((t) => (
            <li key={t.thread_id}>
              <button className={t.thread_id === selected ? "thread active" : "thread"} onClick={() => setParams({ thread: t.thread_id })}>
                <span className="line">
                  <span className="mono">{short(t.thread_id)}</span> <Status status={t.status} />
                  <span className="muted small-text">{ago(t.updated_at)}</span>
                </span>
                <span className="muted small-text ellipsis full" title={JSON.stringify(t.metadata ?? {})}>
                  {JSON.stringify(t.metadata ?? {})}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </section>
      {selected ? <ThreadDetail threadId={selected} /> : <Empty>Pick a thread to see its state and history.</Empty>}
    </main>
  );
}
