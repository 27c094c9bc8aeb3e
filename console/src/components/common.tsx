// Small shared pieces: JSON shown as text (never as HTML), status badges, error and empty
// states, number and time formatting, and a hook for one API call with loading/error state.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { errorStatus, errorText } from "../api";
import { useSession } from "../session";

export function Json({ value, className }: { value: unknown; className?: string }) {
  let text: string;
  try {
    text = value === undefined ? "—" : JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  return <pre className={`json ${className ?? ""}`}>{text}</pre>;
}

export function Status({ status }: { status: string | null | undefined }) {
  const s = status ?? "unknown";
  return <span className={`status status-${s}`}>{s}</span>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  const status = errorStatus(error);
  const title =
    status === 0 ? "Server unreachable" : status === 401 || status === 403 ? "Not allowed" : `Error ${status}`;
  return (
    <div className="error-box" role="alert">
      <strong>{title}</strong> <span>{errorText(error)}</span>
      {retry && (
        <button className="small" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.floor(value / 60_000)} m ${Math.round((value % 60_000) / 1000)} s`;
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

/** Checkpoint ids are time-ordered UUIDs: their first group repeats, the 2nd and 3rd differ. */
export const shortCheckpoint = (id: string | null | undefined): string => (id ? id.slice(9, 18) : "—");

/** UUIDv7 ids share their time prefix; the tail tells them apart. */
export const short = (id: string | null | undefined): string => (id ? id.slice(-8) : "—");

/** Runs `load` now and on `reload()`; keeps the last data while reloading (no layout jump). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const { checkAuth } = useSession();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    load()
      .then((d) => {
        if (mine !== generation.current) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (mine !== generation.current) return;
        checkAuth(e);
        setError(e);
      })
      .finally(() => mine === generation.current && setLoading(false));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, loading, reload, setData };
}

/** Parses the JSON a user typed; undefined for an empty field, throws a readable error. */
export function parseJsonField(text: string, what: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${errorText(e)}`);
  }
}
