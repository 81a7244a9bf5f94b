/** tidings-client: the Tidings instant-messaging client for browsers and
 * Node 20+ (docs/typescript-sdk.md). */
export { Client, type Element, type SendOptions } from "./client.js";
export { ConversationList } from "./conversations.js";
export { CatchUp, type Again } from "./catch-up.js";
export { HomeAccounts, type Channel as HomeChannel, type HomeSession, type SignedIn } from "./home.js";
export { httpBase } from "./http.js";
export { PART_BYTES, type StoredUpload, type UploadOptions, type UploadSource } from "./media.js";
export { Emitter, type Listener } from "./emitter.js";
export {
  ClientClosedError, FATAL_LOGIN_CODES, InvalidArgumentError, RequestTimeoutError, RETRYABLE_CODES,
  TidingsError,
} from "./errors.js";
export type { WebSocketClass, WebSocketLike } from "./connection.js";
export type { ClientOptions } from "./options.js";
export type { ClientEvents, ConnectionState, Entry } from "./session.js";
export { SeqTracker, type Verdict } from "./tracker.js";
export {
  checkKnown, LocalStorageKnownStore, MemoryKnownStore, type Known, type KnownStore, type StorageLike,
} from "./known-store.js";
export { ErrorCodes } from "./generated/protocol.js";
export type * from "./generated/protocol.js";
