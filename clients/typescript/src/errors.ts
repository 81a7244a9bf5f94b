/** Errors as typed objects: the server's refusals keep the protocol's stable
 * code (docs/protocol.md, "Error codes"); the SDK's own failures have their
 * own classes so `instanceof` tells them apart. */
import { ErrorCodes, type ErrorName } from "./generated/protocol.js";

const NAMES: Map<number, ErrorName> = new Map(
  (Object.entries(ErrorCodes) as [ErrorName, number][]).map(([name, code]) => [code, name]));

/** The server refused a request (or the login): `code` is stable, `name` is
 * its snake_case name, `details` holds the error's other fields (for example
 * `muted_until`, `offset`, `retry_after`). */
export class TidingsError extends Error {
  override readonly name = "TidingsError";
  readonly code: number;
  readonly codeName: ErrorName | "unknown";
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: number, message: string, details: Record<string, unknown> = {}) {
    super(`${message} (${code})`);
    this.code = code;
    this.codeName = NAMES.get(code) ?? "unknown";
    this.details = details;
  }

  /** Whether this is the error named, e.g. `err.is("group_muted")`. */
  is(name: ErrorName): boolean {
    return this.code === ErrorCodes[name];
  }

  static from(error: unknown): TidingsError {
    if (typeof error !== "object" || error === null) {
      return new TidingsError(ErrorCodes.internal, `malformed error: ${String(error).slice(0, 100)}`);
    }
    const { code, message, name: _name, ...details } = error as Record<string, unknown>;
    return new TidingsError(typeof code === "number" ? code : ErrorCodes.internal,
      typeof message === "string" ? message : "error", details);
  }
}

/** The client was closed (or was never connected and gave up): make a new one. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  constructor(message = "the client is closed") {
    super(message);
  }
}

/** No answer (or no connection) within the request's time limit. A send
 * that timed out may still have been stored: send it again with the same
 * `client_msg_id` and the server answers its first ack. */
export class RequestTimeoutError extends Error {
  override readonly name = "RequestTimeoutError";
}

/** A call the SDK refuses before anything is sent (a wrong argument). */
export class InvalidArgumentError extends TypeError {
  override readonly name = "InvalidArgumentError";
}

/** The connection a request went out on is gone; the request goes out again
 * on the next one (internal). */
export class ConnectionLost extends Error {
  override readonly name = "ConnectionLost";
}

/** A refused login that trying again cannot fix. */
export const FATAL_LOGIN_CODES: ReadonlySet<number> = new Set([
  ErrorCodes.usersig_expired, ErrorCodes.usersig_missing, ErrorCodes.usersig_invalid,
  ErrorCodes.usersig_bad_signature, ErrorCodes.usersig_user_mismatch,
  ErrorCodes.usersig_app_mismatch, ErrorCodes.app_not_found, ErrorCodes.invalid_user_id,
  ErrorCodes.account_disabled, ErrorCodes.account_deleted, ErrorCodes.usersig_revoked,
]);

/** Refusals that mean "not now": the request is repeated after a pause. */
export const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  ErrorCodes.service_unavailable, ErrorCodes.rate_limited,
]);
