// Shared by the Node tests: the server under test comes from the pytest
// that runs them (tests/clients/test_typescript_sdk.py), through the env:
// TIDINGS_WS_URL, TIDINGS_SDKAPPID and TIDINGS_CONTROL, a small HTTP server
// of the test that signs UserSigs (as an app's server would) and kills and
// restarts the Tidings process.
import { randomBytes } from "node:crypto";
import { WebSocket } from "ws";
import { Client } from "tidings-client";

export const URL = process.env.TIDINGS_WS_URL;
export const SDKAPPID = Number(process.env.TIDINGS_SDKAPPID);
export const CONTROL = process.env.TIDINGS_CONTROL;
if (!URL || !SDKAPPID || !CONTROL) {
  throw new Error("run through pytest tests/clients/test_typescript_sdk.py (it sets TIDINGS_WS_URL ...)");
}

/** A user id of this test alone. */
export function user(name) {
  return `${name}-${randomBytes(5).toString("hex")}`;
}

export async function userSig(userId) {
  const reply = await fetch(`${CONTROL}/usersig?user=${encodeURIComponent(userId)}`);
  if (!reply.ok) throw new Error(`usersig: ${reply.status}`);
  return reply.text();
}

export async function control(action) {
  const reply = await fetch(`${CONTROL}/${action}`, { method: "POST" });
  if (!reply.ok) throw new Error(`${action}: ${reply.status} ${await reply.text()}`);
}

const opened = [];

/** Closes every client `connect` made (an `after` hook of each file: a
 * failed test must not leave sockets that keep node from exiting). */
export function closeAll() {
  for (const client of opened.splice(0)) client.close();
}

/** Closes `client` with the others at the end of the file. */
export function closeLater(client) {
  opened.push(client);
  return client;
}

/** A connected client with quick reconnects, and what it received: its
 * messages (`inbox`) and every entry (`entries`: messages, changes, system). */
export async function connect(userId, options = {}) {
  const client = new Client({
    url: URL, sdkappid: SDKAPPID, userId, getUserSig: () => userSig(userId), WebSocket,
    backoffInitial: 100, backoffMax: 800, ...options,
  });
  opened.push(client);
  const inbox = [];
  const entries = [];
  client.on("message", (m) => inbox.push(m));
  client.on("entry", (e) => entries.push(e));
  await client.connect();
  return { client, inbox, entries };
}

/** Waits until `check()` holds (polling), failing after `ms`. */
export async function until(check, ms = 15_000, what = "the condition") {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
