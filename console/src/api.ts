// How the console talks to the Headwater API: the credential kept in the browser, the official
// LangGraph JS client for every LangGraph call, plain fetch for the console endpoints
// (/workers, /runs/search, /runs/live, /runs/{id}/inspect), and an SSE reader over fetch
// (EventSource cannot send the auth header).
import { Client } from "@langchain/langgraph-sdk";

export type AuthMode = "none" | "apikey" | "jwt";
export interface ConsoleConfig {
  auth: AuthMode;
  mode: "dev" | "cluster";
  version: string;
  traces_url: string | null;
}

const CREDENTIAL_KEY = "headwater.console.credential";

export const storedCredential = (): string | null => localStorage.getItem(CREDENTIAL_KEY);
export const storeCredential = (value: string | null): void => {
  if (value) localStorage.setItem(CREDENTIAL_KEY, value);
  else localStorage.removeItem(CREDENTIAL_KEY);
};

/** The API's header names: `x-api-key` for keys, `Authorization: Bearer` for JWTs. */
export function authHeaders(auth: AuthMode, credential: string | null): Record<string, string> {
  if (auth === "none" || !credential) return {};
  return auth === "apikey" ? { "x-api-key": credential } : { Authorization: `Bearer ${credential}` };
}

export const apiUrl = (): string => window.location.origin;

export function makeClient(headers: Record<string, string>): Client {
  return new Client({ apiUrl: apiUrl(), defaultHeaders: headers });
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The status of an error thrown by fetch or by the SDK (0 when the server was not reached). */
export function errorStatus(error: unknown): number {
  if (error instanceof ApiError) return error.status;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : 0;
}

export function errorText(error: unknown): string {
  if (error === null || error === undefined) return "";
  if (error instanceof TypeError) return `The API cannot be reached (${error.message}).`;
  if (error instanceof Error) return error.message;
  return typeof error === "string" ? error : JSON.stringify(error);
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch(`${apiUrl()}/console/config.json`);
  if (!response.ok) throw new ApiError(response.status, `config.json answered ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}

async function detail(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { detail?: unknown };
    if (body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: show the text as it is
  }
  return text || response.statusText;
}

/** A JSON call to a console endpoint; a non-2xx answer throws ApiError with the API's detail. */
export async function requestJson<T>(
  headers: Record<string, string>,
  path: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const response = await fetch(`${apiUrl()}${path}`, {
    method: init.method ?? "GET",
    headers: { ...headers, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (!response.ok) throw new ApiError(response.status, `${response.status}: ${await detail(response)}`);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export interface SseMessage {
  event: string;
  data: string;
}

/** Reads a text/event-stream until it ends or `signal` aborts; comments (heartbeats) skipped. */
export async function* readSse(
  headers: Record<string, string>,
  path: string,
  signal: AbortSignal,
): AsyncGenerator<SseMessage> {
  const response = await fetch(`${apiUrl()}${path}`, {
    headers: { ...headers, accept: "text/event-stream" },
    signal,
  });
  if (!response.ok || !response.body) {
    throw new ApiError(response.status, `${response.status}: ${await detail(response)}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
      end = buffer.indexOf("\n\n");
    }
  }
}
