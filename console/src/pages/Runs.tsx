// The live runs table: pushed by /runs/live (no polling), filtered in the browser, virtualized
// so 1,000 rows with 50 streaming stay smooth; cancel (interrupt or rollback) per row.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { ErrorBox, ms, short, Status } from "../components/common";
import { useLiveFeed, type RunView } from "../live";
import { useSession } from "../session";

const STATUSES = ["", "pending", "running", "success", "error", "timeout", "interrupted"];
const ROW_HEIGHT = 38;
const ACTIVE = new Set(["pending", "running"]);

function CancelButtons({ run }: { run: RunView }) {
  const { client, checkAuth } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<string | null>(null);
  if (!ACTIVE.has(run.status) || !run.thread_id) return <span className="muted">—</span>;
  const cancel = async (action: "interrupt" | "rollback") => {
    try {
      setSent(action);
      await client.runs.cancel(run.thread_id!, run.run_id, false, action);
    } catch (e) {
      checkAuth(e);
      setError(e);
      setSent(null);
    }
  };
  return (
    <span className="row-actions">
      <button className="small" disabled={sent !== null} onClick={() => void cancel("interrupt")} title="Stop the run, keep its checkpoints">
        {sent === "interrupt" ? "cancelling…" : "Cancel"}
      </button>
      <button className="small danger" disabled={sent !== null} onClick={() => void cancel("rollback")} title="Stop the run and remove its checkpoints">
        Rollback
      </button>
      {error !== null && <span className="error small-text">{String((error as Error).message)}</span>}
    </span>
  );
}

export function RunsPage() {
  const feed = useLiveFeed(1000);
  const [status, setStatus] = useState("");
  const [assistant, setAssistant] = useState("");
  const [thread, setThread] = useState("");
  const rows = useMemo(() => {
    const list = [...feed.runs.values()].filter(
      (r) =>
        (!status || r.status === status) &&
        (!assistant || r.assistant_id.includes(assistant) || String(r.metadata?.graph_id ?? "").includes(assistant)) &&
        (!thread || (r.thread_id ?? "").includes(thread)),
    );
    list.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    return list;
    // feed.version changes whenever the map does
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [feed.version, status, assistant, thread]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const active = rows.filter((r) => ACTIVE.has(r.status)).length;
  return (
    <main className="page runs-page">
      <div className="stats" aria-label="Queue">
        <Stat label="feed" value={feed.state} />
        <Stat label="queue depth" value={feed.queue?.pending ?? "—"} testid="queue-pending" />
        <Stat label="unacked" value={feed.queue?.ack_pending ?? "—"} testid="queue-unacked" />
        <Stat label="redelivered" value={feed.queue?.redelivered ?? "—"} />
        <Stat label="workers" value={feed.workers.length} />
        <Stat label="active runs" value={active} />
        <Stat label="listed" value={rows.length} />
      </div>
      {feed.error && <ErrorBox error={new Error(feed.error)} />}
      <div className="filters">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Status filter">
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Assistant <input value={assistant} onChange={(e) => setAssistant(e.target.value)} placeholder="graph or id contains…" aria-label="Assistant filter" />
        </label>
        <label>
          Thread <input value={thread} onChange={(e) => setThread(e.target.value)} placeholder="id contains…" />
        </label>
      </div>
      <div className="table runs-table" role="table" aria-label="Runs">
        <div className="tr th" role="row">
          {["status", "run", "assistant", "thread", "attempt", "worker", "queued", "TTFT", "duration", ""].map((h) => (
            <span key={h} role="columnheader">
              {h}
            </span>
          ))}
        </div>
        <div className="tbody" ref={scroller}>
          {rows.length === 0 && <p className="empty">{feed.state === "live" ? "No runs yet." : "Connecting to the live feed…"}</p>}
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
            {virtual.getVirtualItems().map((item) => {
              const r = rows[item.index];
              return (
                <div
                  key={r.run_id}
                  className="tr"
                  role="row"
                  data-run-id={r.run_id}
                  data-status={r.status}
                  style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
                >
                  <span role="cell">
                    <Status status={r.status} />
                  </span>
                  <span role="cell" className="mono">
                    <Link to={`/runs/${r.run_id}`} title={r.error ?? r.run_id}>
                      {short(r.run_id)}
                    </Link>
                  </span>
                  <span role="cell" className="ellipsis" title={r.assistant_id}>
                    {String(r.metadata?.graph_id ?? short(r.assistant_id))}
                  </span>
                  <span role="cell" className="mono">{short(r.thread_id)}</span>
                  <span role="cell" className="num">{r.attempt}</span>
                  <span role="cell" className="mono ellipsis" title={r.worker_id ?? ""}>
                    {r.worker_id ? r.worker_id.slice(0, 12) : "—"}
                  </span>
                  <span role="cell" className="num">{ms(r.queued_ms)}</span>
                  <span role="cell" className="num">{ms(r.ttft_ms)}</span>
                  <span role="cell" className="num">{ms(r.duration_ms)}</span>
                  <span role="cell">
                    <CancelButtons run={r} />
                  </span>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </main>
  );
}

export function Stat({ label, value, testid }: { label: string; value: string | number; testid?: string }) {
  return (
    <div className="stat">
      <span className="stat-value" data-testid={testid}>
        {value}
      </span>
      <span className="stat-label">{label}</span>
    </div>
  );
}
