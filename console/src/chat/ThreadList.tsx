// Threads of the chat playground: newest first; create, rename (metadata.title) and delete.
import type { Thread } from "@langchain/langgraph-sdk";
import { useState } from "react";
import { ErrorBox, ago, short, useLoad } from "../components/common";
import { useSession } from "../session";

export const threadTitle = (t: Thread): string => {
  const title = (t.metadata as { title?: unknown } | null)?.title;
  return typeof title === "string" && title ? title : `thread ${short(t.thread_id)}`;
};

export function ThreadList({
  selected,
  onSelect,
  refreshKey,
}: {
  selected: string | null;
  onSelect: (threadId: string | null) => void;
  refreshKey: unknown;
}) {
  const { client, checkAuth } = useSession();
  const threads = useLoad(
    () => client.threads.search({ limit: 50, sortBy: "updated_at", sortOrder: "desc" }),
    [client, refreshKey],
  );
  const [actionError, setActionError] = useState<unknown>(null);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      setActionError(null);
      threads.reload();
    } catch (e) {
      checkAuth(e);
      setActionError(e);
    }
  };
  return (
    <aside className="threads panel" aria-label="Threads">
      <div className="panel-head">
        <h2>Threads</h2>
        <button
          className="small"
          onClick={() =>
            act(async () => {
              const t = await client.threads.create();
              onSelect(t.thread_id);
            })
          }
        >
          + New
        </button>
      </div>
      <ErrorBox error={threads.error ?? actionError} retry={threads.reload} />
      <ul className="thread-list">
        <li>
          <button className={selected === null ? "thread active" : "thread"} onClick={() => onSelect(null)}>
            <span>New conversation</span>
          </button>
        </li>
        {(threads.data ?? []).map((t) => (
          <li key={t.thread_id}>
            <button
              className={t.thread_id === selected ? "thread active" : "thread"}
              onClick={() => onSelect(t.thread_id)}
              title={t.thread_id}
            >
              <span className="thread-title">{threadTitle(t)}</span>
              <span className="muted small-text">
                {t.status} · {ago(t.updated_at)}
              </span>
            </button>
            {t.thread_id === selected && (
              <span className="thread-actions">
                <button
                  className="small"
                  onClick={() => {
                    const title = window.prompt("Thread title", threadTitle(t));
                    if (title !== null)
                      void act(() => client.threads.update(t.thread_id, { metadata: { title } }));
                  }}
                >
                  Rename
                </button>
                <button
                  className="small danger"
                  onClick={() => {
                    if (window.confirm(`Delete ${threadTitle(t)} with its runs and checkpoints?`))
                      void act(async () => {
                        await client.threads.delete(t.thread_id);
                        onSelect(null);
                      });
                  }}
                >
                  Delete
                </button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {threads.data && threads.data.length === 0 && <p className="muted pad">No threads yet.</p>}
    </aside>
  );
}
