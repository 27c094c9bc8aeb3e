// One run, inspected: summary, event timeline, node waterfall, LLM calls, checkpoints with their
// diffs, input/config/metadata and a trace link. Refreshed every 2 s while the run is active.
import { useEffect } from "react";
import { Link, useParams } from "react-router-dom";
import { requestJson } from "../api";
import { ago, Empty, ErrorBox, Json, ms, short, shortCheckpoint, Status, useLoad } from "../components/common";
import type { RunView } from "../live";
import { useSession } from "../session";

interface Inspection {
  run: RunView;
  events: { id: string; event: string; t_ms: number; node: string | null; ns: string[]; bytes: number; preview: string }[];
  nodes: { node: string; ns: string[]; start_ms: number; end_ms: number }[];
  llm_calls: {
    node: string | null;
    model: string | null;
    start_ms: number;
    first_token_ms: number | null;
    end_ms: number;
    input_tokens: number | null;
    output_tokens: number | null;
  }[];
  checkpoints: {
    checkpoint_id: string;
    parent_checkpoint_id: string | null;
    step: number | null;
    source: string | null;
    next: string[];
    values: Record<string, unknown>;
    diff: { added: Record<string, unknown>; removed: string[]; changed: Record<string, unknown> };
  }[];
  input: unknown;
  config: Record<string, unknown>;
  metadata: Record<string, unknown>;
  trace_url: string | null;
}

const MAX_EVENTS_SHOWN = 2000;

function Waterfall({ nodes, llm }: { nodes: Inspection["nodes"]; llm: Inspection["llm_calls"] }) {
  const end = Math.max(1, ...nodes.map((n) => n.end_ms), ...llm.map((c) => c.end_ms));
  const pct = (v: number) => `${(Math.max(0, v) / end) * 100}%`;
  return (
    <div className="waterfall" data-testid="waterfall">
      {nodes.map((n, i) => (
        <div className="wf-row" key={`${n.node}-${i}`} data-testid="waterfall-node">
          <span className="wf-label" title={[...n.ns, n.node].join(" / ")}>
            {n.ns.length ? `${n.ns.join("/")}/` : ""}
            {n.node}
          </span>
          <span className="wf-track">
            <span className="wf-bar" style={{ left: pct(n.start_ms), width: `max(2px, ${pct(n.end_ms - n.start_ms)})` }} />
          </span>
          <span className="wf-time num">{ms(n.end_ms - n.start_ms)}</span>
        </div>
      ))}
    </div>
  );
}

export function RunInspectorPage() {
  const { runId = "" } = useParams();
  const { headers, config } = useSession();
  const inspection = useLoad(
    () => requestJson<Inspection>(headers, `/runs/${encodeURIComponent(runId)}/inspect`),
    [headers, runId],
  );
  const data = inspection.data;
  const active = data && (data.run.status === "pending" || data.run.status === "running");
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(inspection.reload, 2000);
    return () => clearInterval(timer);
  }, [active, inspection.reload]);

  if (!data) {
    return (
      <main className="page">
        <h1>Run {short(runId)}</h1>
        {inspection.error ? <ErrorBox error={inspection.error} retry={inspection.reload} /> : <p className="muted">Loading…</p>}
      </main>
    );
  }
  const { run } = data;
  return (
    <main className="page inspector">
      <div className="inspector-head">
        <h1>
          Run <span className="mono">{run.run_id}</span> <Status status={run.status} />
        </h1>
        <p className="muted">
          {String(run.metadata?.graph_id ?? run.assistant_id)} · thread{" "}
          {run.thread_id ? <Link to={`/threads?thread=${run.thread_id}`}>{short(run.thread_id)}</Link> : "—"} · attempt {run.attempt} · worker{" "}
          {run.worker_id ?? "—"} · created {ago(run.created_at)}
        </p>
        <div className="stats">
          <div className="stat"><span className="stat-value">{ms(run.queued_ms)}</span><span className="stat-label">queued</span></div>
          <div className="stat"><span className="stat-value">{ms(run.ttft_ms)}</span><span className="stat-label">time to first token</span></div>
          <div className="stat"><span className="stat-value">{ms(run.duration_ms)}</span><span className="stat-label">duration</span></div>
          <div className="stat"><span className="stat-value">{data.events.length}</span><span className="stat-label">events</span></div>
        </div>
        {run.error && (
          <div className="error-box" role="alert">
            <strong>Run failed</strong> <span>{run.error}</span>
          </div>
        )}
        <p>
          {data.trace_url ? (
            <a href={data.trace_url} target="_blank" rel="noreferrer noopener">
              Open trace
            </a>
          ) : (
            <span className="muted">{config.traces_url ? "No trace recorded for this run." : "Set HEADWATER_TRACES_URL to link traces."}</span>
          )}{" "}
          <button className="small" onClick={inspection.reload}>
            Refresh
          </button>
        </p>
      </div>

      <section>
        <h2>Nodes</h2>
        {data.nodes.length ? <Waterfall nodes={data.nodes} llm={data.llm_calls} /> : <Empty>No node ran.</Empty>}
      </section>

      <section>
        <h2>LLM calls</h2>
        {data.llm_calls.length === 0 ? (
          <Empty>No LLM call.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="LLM calls" data-testid="llm-calls">
              <thead>
                <tr><th>node</th><th>model</th><th>start</th><th>TTFT</th><th>duration</th><th>tokens in</th><th>tokens out</th></tr>
              </thead>
              <tbody>
                {data.llm_calls.map((c, i) => (
                  <tr key={i}>
                    <td>{c.node ?? "—"}</td>
                    <td>{c.model ?? "—"}</td>
                    <td className="num">{ms(c.start_ms)}</td>
                    <td className="num">{c.first_token_ms === null ? "—" : ms(c.first_token_ms - c.start_ms)}</td>
                    <td className="num">{ms(c.end_ms - c.start_ms)}</td>
                    <td className="num">{c.input_tokens ?? "—"}</td>
                    <td className="num">{c.output_tokens ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section>
        <h2>Checkpoints</h2>
        {data.checkpoints.length === 0 && <Empty>No checkpoint written.</Empty>}
        {data.checkpoints.map((c) => (
          <details key={c.checkpoint_id} className="checkpoint">
            <summary>
              step {c.step ?? "?"} <span className="muted">{c.source ?? ""}</span> <span className="mono">{shortCheckpoint(c.checkpoint_id)}</span>{" "}
              {c.next.length ? `→ ${c.next.join(", ")}` : ""}
              <span className="muted">
                {" "}
                +{Object.keys(c.diff.added).length} ~{Object.keys(c.diff.changed).length} −{c.diff.removed.length}
              </span>
            </summary>
            <div className="grid-2">
              <div>
                <div className="label">diff</div>
                <Json value={c.diff} />
              </div>
              <div>
                <div className="label">values</div>
                <Json value={c.values} />
              </div>
            </div>
          </details>
        ))}
      </section>

      <section>
        <h2>Events</h2>
        {data.events.length > MAX_EVENTS_SHOWN && <p className="muted">The first {MAX_EVENTS_SHOWN} of {data.events.length} events.</p>}
        <div className="table-wrap events">
          <table aria-label="Events">
            <thead>
              <tr><th>t</th><th>event</th><th>node</th><th>namespace</th><th>bytes</th><th>data</th></tr>
            </thead>
            <tbody>
              {data.events.slice(0, MAX_EVENTS_SHOWN).map((e, i) => (
                <tr key={`${e.id}-${i}`}>
                  <td className="num">{ms(e.t_ms)}</td>
                  <td>{e.event}</td>
                  <td>{e.node ?? ""}</td>
                  <td>{e.ns.join(" / ")}</td>
                  <td className="num">{e.bytes}</td>
                  <td className="preview mono">{e.preview}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section className="grid-3">
        <div data-testid="run-input">
          <h2>Input</h2>
          <Json value={data.input} />
        </div>
        <div>
          <h2>Config</h2>
          <Json value={data.config} />
        </div>
        <div>
          <h2>Metadata</h2>
          <Json value={data.metadata} />
        </div>
      </section>
    </main>
  );
}
