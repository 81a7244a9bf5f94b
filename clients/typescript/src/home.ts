/** Hosted Tidings accounts (the home app; docs/home-accounts.md): register,
 * sign in by password or by a one-time code, sessions. A sign-in answers a
 * UserSig to connect with, like any app's user:
 *
 *     const home = new HomeAccounts("https://chat.example.org");
 *     const me = await home.signInPassword("ana", "correct horse");
 *     const client = home.client(me); await client.connect();
 *
 * A cluster's processes may be given as a list: a call that no process
 * answered (a network failure) is made again through the next one.
 */
import { Client } from "./client.js";
import { InvalidArgumentError } from "./errors.js";
import { httpCall, type HttpCall } from "./http.js";
import type { ClientOptions } from "./options.js";

export type Channel = "email" | "phone";

/** Connect as `user_id` of app `sdkappid` with `usersig` until `expires_at` (ms). */
export interface SignedIn {
  sdkappid: number;
  user_id: string;
  usersig: string;
  expires_at: number;
  session_id: string;
  /** This sign-in made the account. */
  created: boolean;
}

/** A live sign-in of a hosted account (`method`: password, email or phone; times in ms). */
export interface HomeSession {
  session_id: string;
  method: string;
  client_ip: string;
  created_at: number;
  expires_at: number;
  current: boolean;
}

type Answer = Promise<Record<string, unknown>>;

export class HomeAccounts {
  /** The servers' `http(s)://host`s, in the order they are tried. */
  readonly baseUrls: readonly string[];
  private at = 0;

  /** `baseUrl`: the server's `http(s)://host`, or those of a cluster's processes. */
  constructor(baseUrl: string | readonly string[]) {
    const bases: unknown[] = typeof baseUrl === "string" ? [baseUrl] : Array.isArray(baseUrl) ? [...baseUrl] : [];
    if (bases.length === 0 || !bases.every((b) => typeof b === "string" && /^https?:\/\//.test(b))) {
      throw new InvalidArgumentError(`baseUrl: one or more http(s):// URLs, not ${JSON.stringify(baseUrl)}`);
    }
    this.baseUrls = Object.freeze((bases as string[]).map((b) => b.replace(/\/+$/, "")));
  }

  /** The base URL calls go to now (the last that answered). */
  get baseUrl(): string {
    return this.baseUrls[this.at]!;
  }

  /** The home app: `sdkappid`, `name`, `icon_url`. */
  app(): Answer { return this.call("/v1/home"); }

  register(username: string, password: string): Promise<SignedIn> {
    return this.signIn("/v1/home/register", { username, password });
  }
  signInPassword(username: string, password: string): Promise<SignedIn> {
    return this.signIn("/v1/home/sign-in/password", { username, password });
  }
  /** Sends a one-time code to the address (the answer never has it). */
  requestCode(channel: Channel, address: string): Answer {
    return this.call("/v1/home/codes", { json: { channel, address } });
  }
  /** Spends the code; the first time, this makes the account. */
  signInCode(channel: Channel, address: string, code: string): Promise<SignedIn> {
    return this.signIn("/v1/home/sign-in/code", { channel, address, code });
  }
  requestPasswordReset(channel: Channel, address: string): Answer {
    return this.call("/v1/home/password-reset/codes", { json: { channel, address } });
  }
  /** Every other sign-in of the account ends; this answers a new one. */
  resetPassword(channel: Channel, address: string, code: string, newPassword: string): Promise<SignedIn> {
    return this.signIn("/v1/home/password-reset", { channel, address, code, new_password: newPassword });
  }

  signOut(me: SignedIn): Answer { return this.as(me, "POST", "/v1/home/sign-out"); }
  signOutEverywhere(me: SignedIn): Answer { return this.as(me, "POST", "/v1/home/sign-out-everywhere"); }
  /** The account's live sign-ins, newest first; `current` marks this one. */
  sessions(me: SignedIn): Promise<{ sessions: HomeSession[] }> {
    return this.as(me, "GET", "/v1/home/sessions") as Promise<{ sessions: HomeSession[] }>;
  }
  /** Signs out one session of the account (a lost phone): its sockets close. */
  signOutSession(me: SignedIn, sessionId: string): Answer {
    return this.as(me, "DELETE", `/v1/home/sessions/${encodeURIComponent(sessionId)}`);
  }
  me(me: SignedIn): Answer { return this.as(me, "GET", "/v1/home/me"); }
  updateMe(me: SignedIn, fields: { display_name?: string; avatar_url?: string; username?: string }): Answer {
    return this.as(me, "PATCH", "/v1/home/me", fields);
  }
  changePassword(me: SignedIn, newPassword: string, currentPassword?: string): Answer {
    return this.as(me, "POST", "/v1/home/password", {
      new_password: newPassword, ...(currentPassword === undefined ? {} : { current_password: currentPassword }) });
  }
  /** Another account by its username. */
  find(me: SignedIn, username: string): Answer {
    return this.as(me, "GET", `/v1/home/users/${encodeURIComponent(username)}`);
  }
  requestAddressCode(me: SignedIn, channel: Channel, address: string): Answer {
    return this.as(me, "POST", "/v1/home/addresses/codes", { channel, address });
  }
  addAddress(me: SignedIn, channel: Channel, address: string, code: string): Answer {
    return this.as(me, "POST", "/v1/home/addresses", { channel, address, code });
  }
  removeAddress(me: SignedIn, channel: Channel): Answer {
    return this.as(me, "DELETE", `/v1/home/addresses/${channel}`);
  }
  requestDeletionCode(me: SignedIn, channel: Channel): Answer {
    return this.as(me, "POST", "/v1/home/me/deletion-codes", { channel });
  }
  /** With the password when the account has one, else a deletion code. */
  deleteAccount(me: SignedIn, proof: { password?: string; channel?: Channel; code?: string }): Answer {
    return this.as(me, "DELETE", "/v1/home/me", proof);
  }

  /** A client of the home app for this sign-in (its WebSocket is each base
   * URL's /v1/ws, the one that answered last first). */
  client(me: SignedIn, options: Partial<ClientOptions> = {}): Client {
    const urls = [...this.baseUrls.slice(this.at), ...this.baseUrls.slice(0, this.at)]
      .map((base) => base.replace(/^http/, "ws") + "/v1/ws");
    return new Client({
      url: urls.length === 1 ? urls[0]! : urls,
      sdkappid: me.sdkappid, userId: me.user_id, userSig: me.usersig, ...options });
  }

  private signIn(path: string, json: Record<string, string>): Promise<SignedIn> {
    return this.call<SignedIn>(path, { json });
  }

  private as(me: SignedIn, method: string, path: string, json?: unknown): Answer {
    return this.call(path, { method, usersig: me.usersig, ...(json === undefined ? {} : { json }) });
  }

  /** One call, through the next base URL when none answered (fetch's
   * TypeError: the network), each base tried once. A call the network cut
   * after the server had it may thus be made twice: a second sign-in
   * session, a second code (a register answers `home_username_taken`). */
  private async call<T = Record<string, unknown>>(path: string, call: HttpCall = {}): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await httpCall<T>(this.baseUrl, path, call);
      } catch (error) {
        if (!(error instanceof TypeError) || tried >= this.baseUrls.length || call.signal?.aborted) throw error;
        this.at = (this.at + 1) % this.baseUrls.length;
      }
    }
  }
}
