// The console endpoints' types (CONSOLE_API contract) and the live feed: one SSE connection to
// GET /runs/live that keeps a map of runs, the queue and the workers up to date, reconnecting
// with a back-off when it drops.
import { useEffect, useRef, useState } from "react";
import { errorStatus, readSse } from "./api";
import { useSession } from "./session";

export interface RunView {
  run_id: string;
  thread_id: string | null;
  assistant_id: string;
  created_at: string;
  updated_at: string;
  status: string;
  metadata: Record<string, unknown>;
  kwargs?: Record<string, unknown>;
  multitask_strategy?: string | null;
  attempt: number;
  worker_id: string | null;
  started_at: string | null;
  first_token_at: string | null;
  ended_at: string | null;
  queued_ms: number | null;
  ttft_ms: number | null;
  duration_ms: number | null;
  error: string | null;
}

export interface Worker {
  worker_id: string;
  host: string;
  pid: number;
  version: string;
  graphs: string[];
  concurrency: { limit: number; used: number };
  runs: string[];
  started_at: string;
  heartbeat_at: string;
  status: "alive" | "stale";
}

export interface Queue {
  mode: "nats" | "dev";
  pending: number;
  ack_pending: number;
  redelivered: number;
  consumers: number;
}

export type FeedState = "connecting" | "live" | "reconnecting" | "unauthorized";

export interface LiveFeed {
  runs: Map<string, RunView>;
  queue: Queue | null;
  workers: Worker[];
  state: FeedState;
  error: string | null;
  /** Bumped on every change, so consumers can memoize on it. */
  version: number;
}

/** Subscribes to /runs/live while mounted. Updates are batched per animation frame. */
export function useLiveFeed(limit: number): LiveFeed {
  const { headers, checkAuth } = useSession();
  const store = useRef<LiveFeed>({ runs: new Map(), queue: null, workers: [], state: "connecting", error: null, version: 0 });
  const [feed, setFeed] = useState<LiveFeed>(store.current);

  useEffect(() => {
    const abort = new AbortController();
    let frame = 0;
    const publish = () => {
      store.current = { ...store.current, version: store.current.version + 1 };
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0;
          setFeed(store.current);
        });
    };
    const run = async () => {
      let delay = 500;
      while (!abort.signal.aborted) {
        try {
          for await (const message of readSse(headers, `/runs/live?limit=${limit}`, abort.signal)) {
            delay = 500;
            const data: unknown = JSON.parse(message.data);
            const s = store.current;
            if (message.event === "snapshot") {
              const snap = data as { runs: RunView[]; queue: Queue; workers: Worker[] };
              s.runs = new Map(snap.runs.map((r) => [r.run_id, r]));
              s.queue = snap.queue;
              s.workers = snap.workers;
              s.state = "live";
              s.error = null;
            } else if (message.event === "run") {
              const r = data as RunView;
              s.runs = new Map(s.runs).set(r.run_id, r);
            } else if (message.event === "queue") s.queue = data as Queue;
            else if (message.event === "workers") s.workers = data as Worker[];
            publish();
          }
          store.current.state = "reconnecting";
        } catch (e) {
          if (abort.signal.aborted) return;
          checkAuth(e);
          const status = errorStatus(e);
          store.current.state = status === 401 || status === 403 ? "unauthorized" : "reconnecting";
          store.current.error = status === 0 ? "The API cannot be reached; retrying…" : String((e as Error).message);
        }
        publish();
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 8000);
      }
    };
    void run();
    return () => {
      abort.abort();
      cancelAnimationFrame(frame);
    };
  }, [headers, limit, checkAuth]);
  return feed;
}
