/** The console's one door to the server: the native REST API with the
 * signed-in credential. An operator's token or an app's API key is kept in
 * sessionStorage (this tab only, gone when it closes; never in a URL) and
 * sent as an Authorization header, so no cookie rides along on requests
 * that another site makes (no CSRF). An operator names the app it acts on
 * with `Tidings-App`; an app key's own app is the only one it reaches. */

export type Credential =
  | { kind: "operator"; token: string; name: string }
  | { kind: "apikey"; key: string; sdkappid: number };

const KEY = "tidings.console.credential";

export function kept(): Credential | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Credential) : null;
  } catch {
    return null;
  }
}

export function keep(credential: Credential | null): void {
  if (credential) sessionStorage.setItem(KEY, JSON.stringify(credential));
  else sessionStorage.removeItem(KEY);
}

/** The app an API key names (`tdk_<sdkappid>_...`), or null. */
export function appOfKey(key: string): number | null {
  const found = /^tdk_(\d{1,12})_[A-Za-z0-9_-]{48}$/.exec(key.trim());
  return found ? Number(found[1]) : null;
}

export class ConsoleError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

/** The codes after which the credential is no good: back to sign-in. */
export const SIGNED_OUT_CODES = new Set([96102, 70030]);

export async function call<T>(credential: Credential | null, method: string, path: string,
                              body?: unknown, app?: number): Promise<T> {
  const headers: Record<string, string> = {};
  if (credential?.kind === "operator") headers.Authorization = `Operator ${credential.token}`;
  if (credential?.kind === "apikey") headers.Authorization = `ApiKey ${credential.key}`;
  if (app !== undefined) headers["Tidings-App"] = String(app);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  const text = await reply.text();
  const doc = text ? JSON.parse(text) : {};
  if (!reply.ok) {
    const error = doc?.error ?? {};
    throw new ConsoleError(reply.status, Number(error.code ?? 0), String(error.message ?? reply.statusText));
  }
  return doc as T;
}

export function describe(error: unknown): string {
  return error instanceof ConsoleError ? `${error.message} (${error.code})` : String(error);
}

/** What the console does when a credential stops working (set by main.tsx). */
export const session = { ended: (): void => {} };

/** Requests on one app's behalf, with the signed-in credential. */
export type AppApi = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** A request whose failure with an ended credential signs the console out. */
export function guarded<T>(credential: Credential, method: string, path: string, body?: unknown,
                           app?: number): Promise<T> {
  return call<T>(credential, method, path, body, app).catch((error: unknown) => {
    if (error instanceof ConsoleError && SIGNED_OUT_CODES.has(error.code)) session.ended();
    throw error;
  });
}

export function appApi(credential: Credential, sdkappid: number): AppApi {
  return <T>(method: string, path: string, body?: unknown) => guarded<T>(credential, method, path, body, sdkappid);
}

export type AppView = {
  sdkappid: number; name: string; icon_url: string; created_at: number; admins: string[];
  kind: string; keys?: { id: number; secret_key: string; created_at: number; retired_at: number | null }[];
};
