// The console session: the API's config, the credential asked for once (when auth is on) and
// kept in localStorage, and the LangGraph client built with it. A 401 anywhere clears the
// credential and asks again.
import type { Client } from "@langchain/langgraph-sdk";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import {
  authHeaders,
  errorText,
  loadConfig,
  makeClient,
  storeCredential,
  storedCredential,
  type ConsoleConfig,
} from "./api";

interface Session {
  config: ConsoleConfig;
  headers: Record<string, string>;
  client: Client;
  /** Call with any error: a 401/403 from a bad credential sends the user back to the login. */
  checkAuth: (error: unknown) => void;
  signOut: () => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside <SessionGate>");
  return session;
}

function Login({ config, failed, onSubmit }: { config: ConsoleConfig; failed: boolean; onSubmit: (v: string) => void }) {
  const [value, setValue] = useState("");
  const label = config.auth === "apikey" ? "API key" : "JWT (bearer token)";
  return (
    <main className="center-card">
      <form
        className="card login"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onSubmit(value.trim());
        }}
      >
        <h1>Headwater console</h1>
        <p>This API requires authentication ({config.auth}). Your {label} is kept in this browser only.</p>
        {failed && <p className="error" role="alert">Authentication failed: the API refused this credential.</p>}
        <label>
          {label}
          <input
            type="password"
            autoFocus
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            name="credential"
          />
        </label>
        <button type="submit" className="primary">Sign in</button>
      </form>
    </main>
  );
}

export function SessionGate({ children }: { children: ReactNode }) {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [credential, setCredential] = useState<string | null>(storedCredential());
  const [authFailed, setAuthFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    loadConfig()
      .then((c) => !cancelled && (setConfig(c), setLoadError(null)))
      .catch((e: unknown) => !cancelled && setLoadError(errorText(e)));
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const signOut = useCallback(() => {
    storeCredential(null);
    setCredential(null);
  }, []);
  const checkAuth = useCallback((error: unknown) => {
    const status = (error as { status?: unknown } | null)?.status;
    if (status === 401) {
      storeCredential(null);
      setCredential(null);
      setAuthFailed(true);
    }
  }, []);

  const session = useMemo<Session | null>(() => {
    if (!config) return null;
    const headers = authHeaders(config.auth, credential);
    return { config, headers, client: makeClient(headers), checkAuth, signOut };
  }, [config, credential, checkAuth, signOut]);

  if (loadError) {
    return (
      <main className="center-card">
        <div className="card" role="alert">
          <h1>Headwater is not reachable</h1>
          <p>The console could not load its configuration: {loadError}</p>
          <button onClick={() => setAttempt((n) => n + 1)}>Try again</button>
        </div>
      </main>
    );
  }
  if (!config || !session) return <main className="center-card muted">Loading…</main>;
  if (config.auth !== "none" && !credential) {
    return (
      <Login
        config={config}
        failed={authFailed}
        onSubmit={(v) => {
          storeCredential(v);
          setCredential(v);
          setAuthFailed(false);
        }}
      />
    );
  }
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}
