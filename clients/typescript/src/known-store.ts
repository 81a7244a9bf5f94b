/** Where a client keeps its resync position (`known`: the last contiguous
 * seq held per conversation) between runs, so that a page reloaded (or an
 * app restarted) resumes exactly where it stood: what it missed comes once,
 * nothing it already showed comes again, nothing is skipped.
 *
 * The client loads it before its first sync and saves it after each change
 * (at most once per tick), under a scope naming the app and the user, so one
 * store serves every user of a browser without mixing them. */
import { InvalidArgumentError } from "./errors.js";

export type Known = Record<string, number>;

export interface KnownStore {
  /** The position saved for `scope`, or undefined when there is none. */
  load(scope: string): Known | undefined | Promise<Known | undefined>;
  save(scope: string, known: Known): void | Promise<void>;
}

/** Only what `known` may hold: conversation ids mapped to seqs (integers,
 * 0 or more); anything else (a corrupt or foreign stored value) is none. */
export function checkKnown(value: unknown): Known | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  for (const seq of Object.values(value)) {
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) return undefined;
  }
  return { ...(value as Known) };
}

/** Keeps positions for the life of the process (the default when no store
 * is given is to keep nothing: a client made anew starts from the tail). */
export class MemoryKnownStore implements KnownStore {
  private readonly saved = new Map<string, Known>();

  load(scope: string): Known | undefined {
    const known = this.saved.get(scope);
    return known === undefined ? undefined : { ...known };
  }

  save(scope: string, known: Known): void {
    this.saved.set(scope, { ...known });
  }
}

/** The part of the Web Storage API a `LocalStorageKnownStore` uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Keeps positions in the browser's `localStorage` (or any Web Storage),
 * as JSON under `prefix + scope`. A value that does not parse counts as
 * none; a write the browser refuses (storage full, private mode) is
 * skipped: the next reload then resumes from an older position, so what
 * came after it is handed over again, but nothing is lost. */
export class LocalStorageKnownStore implements KnownStore {
  private readonly storage: StorageLike;

  constructor(readonly prefix = "tidings.known.", storage?: StorageLike) {
    const found = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (found === undefined) {
      throw new InvalidArgumentError("no localStorage here: pass a Storage, or use MemoryKnownStore");
    }
    this.storage = found;
  }

  load(scope: string): Known | undefined {
    const text = this.storage.getItem(this.prefix + scope);
    if (text === null) return undefined;
    try {
      return checkKnown(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  save(scope: string, known: Known): void {
    try {
      this.storage.setItem(this.prefix + scope, JSON.stringify(known));
    } catch {
      // Refused (quota, private mode): see the class comment.
    }
  }
}
