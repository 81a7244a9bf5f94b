/** The REST side of the server (uploads, home accounts), reached at the
 * WebSocket's host: `ws[s]://host/v1/ws` becomes `http[s]://host`. Errors
 * answer `{"error": {code, name, message, ...}}` like the socket's. */
import { TidingsError } from "./errors.js";
import { ErrorCodes } from "./generated/protocol.js";

export function httpBase(url: string): string {
  const base = url.split("/v1/ws")[0]!.replace(/\/+$/, "");
  return base.replace(/^ws(s?):\/\//, "http$1://");
}

export interface HttpCall {
  method?: string;
  /** A JSON body, or bytes sent as they are. */
  json?: unknown;
  bytes?: BodyInit;
  usersig?: string;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

/** One REST call; answers the JSON body, or throws a `TidingsError` with
 * the server's code (network failures throw fetch's own `TypeError`). */
export async function httpCall<T = Record<string, unknown>>(base: string, path: string, call: HttpCall = {}
): Promise<T> {
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = {};
  if (call.usersig !== undefined) headers.Authorization = `Bearer ${call.usersig}`;
  let body: BodyInit | undefined = call.bytes;
  if (call.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(call.json);
  }
  const init: RequestInit = { method: call.method ?? (body === undefined ? "GET" : "POST"), headers };
  if (body !== undefined) init.body = body;
  if (call.signal !== undefined) init.signal = call.signal;
  const reply = await fetch(url, init);
  const text = await reply.text();
  let doc: unknown;
  try {
    doc = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new TidingsError(ErrorCodes.internal, `HTTP ${reply.status}: ${text.slice(0, 200)}`);
  }
  if (!reply.ok) {
    const error = (doc as { error?: unknown }).error;
    throw error === undefined ? new TidingsError(ErrorCodes.internal, `HTTP ${reply.status}`) : TidingsError.from(error);
  }
  return doc as T;
}
