// Crons: schedule, next fire time, pause/resume (enabled) and delete.
import type { Cron } from "@langchain/langgraph-sdk";
import { useState } from "react";
import { Empty, ErrorBox, short, useLoad } from "../components/common";
import { useSession } from "../session";

export function CronsPage() {
  const { client, checkAuth } = useSession();
  const crons = useLoad(() => client.crons.search({ limit: 200 }), [client]);
  const [error, setError] = useState<unknown>(null);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      setError(null);
      crons.reload();
    } catch (e) {
      checkAuth(e);
      setError(e);
    }
  };
  const rows = (crons.data ?? []) as (Cron & { enabled?: boolean; next_run_date?: string | null; timezone?: string })[];
  return (
    <main className="page">
      <ErrorBox error={crons.error ?? error} retry={crons.reload} />
      {crons.data?.length === 0 && <Empty>No crons. Create them with the SDK: client.crons.create(…).</Empty>}
      <div className="table-wrap">
        <table aria-label="Crons">
          <thead>
            <tr>
              <th>cron</th>
              <th>assistant</th>
              <th>thread</th>
              <th>schedule</th>
              <th>next run</th>
              <th>enabled</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.cron_id}>
                <td className="mono">{short(c.cron_id)}</td>
                <td>{c.assistant_id ? short(c.assistant_id) : "—"}</td>
                <td className="mono">{short(c.thread_id)}</td>
                <td className="mono">
                  {c.schedule} {c.timezone ? <span className="muted">{c.timezone}</span> : null}
                </td>
                <td>{c.next_run_date ? new Date(c.next_run_date).toLocaleString() : "—"}</td>
                <td>{c.enabled === false ? "paused" : "yes"}</td>
                <td className="row-actions">
                  <button className="small" onClick={() => void act(() => client.crons.update(c.cron_id, { enabled: c.enabled === false } as never))}>
                    {c.enabled === false ? "Resume" : "Pause"}
                  </button>
                  <button
                    className="small danger"
                    onClick={() => window.confirm("Delete this cron?") && void act(() => client.crons.delete(c.cron_id))}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </main>
  );
}
