// Workers, live from the /runs/live feed (its workers event about every 2 s).
import { ago, Empty, ErrorBox } from "../components/common";
import { useLiveFeed } from "../live";
import { Stat } from "./Runs";

export function WorkersPage() {
  const feed = useLiveFeed(1);
  const used = feed.workers.reduce((n, w) => n + w.concurrency.used, 0);
  const limit = feed.workers.reduce((n, w) => n + w.concurrency.limit, 0);
  return (
    <main className="page">
      <div className="stats">
        <Stat label="workers" value={feed.workers.length} testid="worker-count" />
        <Stat label="concurrency used / limit" value={`${used} / ${limit}`} />
        <Stat label="queue depth" value={feed.queue?.pending ?? "—"} />
        <Stat label="unacked" value={feed.queue?.ack_pending ?? "—"} />
        <Stat label="bus" value={feed.queue?.mode ?? "—"} />
      </div>
      {feed.error && <ErrorBox error={new Error(feed.error)} />}
      {feed.state === "live" && feed.workers.length === 0 && <Empty>No worker is alive: runs wait in the queue.</Empty>}
      <div className="table-wrap">
        <table className="workers-table" aria-label="Workers">
          <thead>
            <tr>
              <th>worker</th>
              <th>host</th>
              <th>graphs</th>
              <th>concurrency</th>
              <th>runs</th>
              <th>heartbeat</th>
              <th>version</th>
              <th>status</th>
            </tr>
          </thead>
          <tbody>
            {feed.workers.map((w) => (
              <tr key={w.worker_id} data-testid="worker-row">
                <td className="mono">{w.worker_id}</td>
                <td>
                  {w.host} <span className="muted">pid {w.pid}</span>
                </td>
                <td>{w.graphs.join(", ")}</td>
                <td>
                  <meter min={0} max={Math.max(w.concurrency.limit, 1)} value={w.concurrency.used} /> {w.concurrency.used} /{" "}
                  {w.concurrency.limit}
                </td>
                <td className="num">{w.runs.length}</td>
                <td>{ago(w.heartbeat_at)}</td>
                <td>{w.version}</td>
                <td>
                  <span className={`status status-${w.status === "alive" ? "success" : "error"}`}>{w.status}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </main>
  );
}
