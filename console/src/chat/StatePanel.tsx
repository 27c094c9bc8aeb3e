// The thread's state values and its checkpoint history; "Fork" makes the next message start
// from that checkpoint (a new branch of the thread).
import type { ThreadState } from "@langchain/langgraph-sdk";
import { memo } from "react";
import { Json, shortCheckpoint } from "../components/common";

// Memoized: tokens stream into messages, and the state JSON need not be rebuilt for each one.
export const StatePanel = memo(function StatePanel({
  values,
  history,
  forkFrom,
  onFork,
}: {
  values: unknown;
  history: ThreadState[];
  forkFrom: string | null;
  onFork: (checkpointId: string | null) => void;
}) {
  return (
    <aside className="state panel" aria-label="Thread state">
      <h2>State</h2>
      <div data-testid="state-values">
        <Json value={values} className="scroll-y" />
      </div>
      <h2>History</h2>
      {history.length === 0 && <p className="muted">No checkpoints yet.</p>}
      <ol className="history">
        {history.map((h) => {
          const id = h.checkpoint?.checkpoint_id ?? "";
          const step = (h.metadata as { step?: unknown } | null)?.step;
          return (
            <li key={id} className={forkFrom === id ? "active" : ""}>
              <details>
                <summary>
                  <span>step {String(step ?? "?")}</span>{" "}
                  <span className="muted">
                    {shortCheckpoint(id)} {h.next.length ? `→ ${h.next.join(", ")}` : "(end)"}
                  </span>
                </summary>
                <Json value={h.values} />
              </details>
              <button className="small" onClick={() => onFork(forkFrom === id ? null : id)}>
                {forkFrom === id ? "Cancel fork" : "Fork"}
              </button>
            </li>
          );
        })}
      </ol>
    </aside>
  );
});
