// The client against a scripted in-memory server (no network): the
// heartbeat watchdog, and a gap in the live stream healed by a resync.
// These need a server that misbehaves on cue, which a real one does not.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Client, HomeAccounts, InvalidArgumentError, LocalStorageKnownStore, MemoryKnownStore, SeqTracker, TidingsError,
} from "tidings-client";

/** A WebSocket whose "server" is `script(frame, socket)`; sockets made are kept in `made`. */
function fakeSockets(script) {
  const made = [];
  class FakeSocket {
    readyState = 0;
    onopen = null; onmessage = null; onclose = null; onerror = null;
    constructor(url) {
      this.url = url;
      made.push(this);
      if (url.includes("//down")) { // nothing listens there
        setTimeout(() => { this.readyState = 3; this.onerror?.({}); this.onclose?.({}); }, 0);
      } else {
        setTimeout(() => { this.readyState = 1; this.onopen?.({}); }, 0);
      }
    }
    send(text) { setTimeout(() => script(JSON.parse(text), this, made.length), 0); }
    push(doc) { if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(doc) }); }
    close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({}), 0);
    }
  }
  return { FakeSocket, made };
}

const message = (seq, conversation = "c2c_bob") => ({
  kind: "message", conversation_id: conversation, seq, msg_id: `1-${conversation}-${seq}`,
  sender: conversation.slice(4), client_msg_id: `${conversation.slice(4)}${seq}`,
  elements: [{ type: "text", text: `m${seq}` }], cloud_custom_data: "", time: seq, state: "normal",
  edited_at: null, imported: null, change_seq: 0,
});
const conv = (last, conversation = "c2c_bob") => ({ conversation_id: conversation, last_seq: last, type: "c2c" });
const LOGIN = { session_id: 1, server_time: 0, heartbeat_interval: 0.05, heartbeat_timeout: 0.2, max_message_bytes: 12288 };

/** A server that logs in (slow heartbeats) and answers the nth sync with
 * `reply(nth)`; each sync's `known` goes into `syncs`. */
function syncing(reply, syncs = []) {
  return fakeSockets((frame, ws, nth) => {
    if (frame.op === "login") ws.push({ re: frame.id, ok: true, data: { ...LOGIN, heartbeat_interval: 25, heartbeat_timeout: 60 } });
    if (frame.op === "sync") {
      syncs.push(frame.data.known);
      ws.push({ re: frame.id, ok: true, data: { more: false, ...reply(nth) } });
    }
  });
}

test("a silent server is left and the client reconnects; pings are answered", async (t) => {
  const pongs = [];
  const { FakeSocket, made } = fakeSockets((frame, ws, nth) => {
    if (frame.op === "pong") { pongs.push(nth); return; }
    if (frame.op === "login") ws.push({ re: frame.id, ok: true, data: LOGIN });
    if (frame.op === "sync") {
      ws.push({ re: frame.id, ok: true, data: { messages: [], conversations: [], more: false } });
      if (nth === 1) ws.push({ event: "ping", data: {} }); // then silence: the first server hangs
    }
  });
  const client = new Client({ url: "ws://fake/v1/ws", sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20 });
  t.after(() => client.close());
  await client.connect();
  const deadline = Date.now() + 5000;
  while (client.connects < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(client.connects, 2);
  assert.equal(made[0].readyState, 3, "the silent connection was closed");
  assert.deepEqual(pongs.slice(0, 1), [1]);
});

test("a socket closing before its close event: a send waits for the next connection (no spin)", async (t) => {
  const sent = [];
  const { FakeSocket, made } = fakeSockets((frame, ws, nth) => {
    if (frame.op === "login") ws.push({ re: frame.id, ok: true, data: { ...LOGIN, heartbeat_interval: 25, heartbeat_timeout: 60 } });
    if (frame.op === "sync") ws.push({ re: frame.id, ok: true, data: { messages: [], conversations: [], more: false } });
    if (frame.op === "send") {
      sent.push(nth);
      ws.push({ re: frame.id, ok: true, data: { conversation_id: "c2c_bob", seq: 1, msg_id: "1-1",
                                                client_msg_id: frame.data.client_msg_id, time: 1 } });
    }
  });
  const client = new Client({ url: "ws://fake/v1/ws", sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20 });
  t.after(() => client.close());
  await client.connect();
  // The server's process died: ws read its FIN (CLOSING) but reports the
  // close a turn later. A client that retried on this socket would loop on
  // microtasks and never reach that turn: the fake breaks such a spin
  // itself so that the test fails instead of hanging.
  const dying = made[0];
  let looks = 0;
  Object.defineProperty(dying, "readyState", { configurable: true, get() {
    looks += 1;
    if (looks === 10_000) this.onclose?.({});
    return 2;
  } });
  setTimeout(() => dying.onclose?.({}), 20);
  const ack = await client.sendText("c2c_bob", "after the fall");
  assert.equal(ack.seq, 1);
  assert.ok(looks < 100, `the client looked at the closing socket ${looks} times`);
  assert.deepEqual(sent, [2], "sent once, on the next connection");
});

test("a gap in the live stream: the client resyncs and hands over each message once, in order", async (t) => {
  const syncs = [];
  const { FakeSocket } = fakeSockets((frame, ws, nth) => {
    if (frame.op === "login") ws.push({ re: frame.id, ok: true, data: { ...LOGIN, heartbeat_interval: 25, heartbeat_timeout: 60 } });
    if (frame.op === "sync") {
      syncs.push(frame.data.known);
      if (nth === 1) {
        ws.push({ re: frame.id, ok: true, data: { messages: [message(1)], conversations: [conv(1)], more: false } });
        ws.push({ event: "message", data: message(1) }); // a duplicate: ignored
        ws.push({ event: "message", data: message(3) }); // seq 2 is missing: resync
      } else {
        ws.push({ re: frame.id, ok: true, data: { messages: [message(2), message(3)], conversations: [conv(3)], more: false } });
        ws.push({ event: "message", data: message(3) }); // covered by the answer
        ws.push({ event: "message", data: message(4) });
      }
    }
  });
  const client = new Client({ url: "ws://fake/v1/ws", sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20 });
  t.after(() => client.close());
  const seqs = [];
  client.on("message", (m) => seqs.push(m.seq));
  const stream = client.stream("entry");
  await client.connect();
  const deadline = Date.now() + 5000;
  while (seqs.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seqs, [1, 2, 3, 4]);
  assert.deepEqual(syncs, [{}, { c2c_bob: 1 }]);
  assert.deepEqual(client.known, { c2c_bob: 4 });
  client.close(); // the stream hands over what it holds, then ends
  const streamed = [];
  for await (const entry of stream) streamed.push(entry.seq);
  assert.deepEqual(streamed, [1, 2, 3, 4]);
});

test("entries that cross wait for the one missing; a gap still open after gapWait resyncs", async (t) => {
  const syncs = [];
  const { FakeSocket, made } = syncing((nth) => {
    const messages = nth === 1 ? [message(1)] : [message(4), message(5)];
    return { messages, conversations: [conv(messages.at(-1).seq)] };
  }, syncs);
  const client = new Client({ url: ["ws://one/v1/ws", "ws://two/v1/ws"], sdkappid: 1, userId: "alice",
                              userSig: "sig", WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20,
                              gapWait: 100 });
  t.after(() => client.close());
  const seqs = [];
  client.on("message", (m) => seqs.push(m.seq));
  await client.connect();
  const ws = made[0];
  ws.push({ event: "message", data: message(3) }); // committed elsewhere, came first
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(seqs, [1], "held past the gap");
  ws.push({ event: "message", data: message(2) });
  assert.deepEqual(seqs, [1, 2, 3]);
  ws.push({ event: "message", data: message(5) }); // 4 never comes
  const deadline = Date.now() + 5000;
  while (seqs.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.deepEqual(syncs, [{}, { c2c_bob: 3 }]);
  assert.deepEqual(made.map((w) => w.url), ["ws://one/v1/ws", "ws://one/v1/ws"], "a resync stays on its URL");
});

test("several URLs: a drop moves to the next, a refused one is passed over, a resync stays", async (t) => {
  const { FakeSocket, made } = fakeSockets((frame, ws) => {
    if (frame.op === "login") ws.push({ re: frame.id, ok: true, data: { ...LOGIN, heartbeat_interval: 25, heartbeat_timeout: 60 } });
    if (frame.op === "sync") ws.push({ re: frame.id, ok: true, data: { messages: [], conversations: [], more: false } });
  });
  const urls = ["ws://one/v1/ws", "ws://down/v1/ws", "ws://two/v1/ws"];
  const client = new Client({ url: urls, sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20 });
  t.after(() => client.close());
  assert.deepEqual(client.urls, urls);
  await client.connect();
  assert.equal(client.url, urls[0]);
  const waitConnects = async (n) => {
    const deadline = Date.now() + 5000;
    while (client.connects < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(client.connects, n);
  };
  made.at(-1).close(); // the server drops it (a drain's 1012, a dead process)
  await waitConnects(2);
  assert.equal(client.url, urls[2]);
  made.at(-1).close();
  await waitConnects(3);
  assert.deepEqual(made.map((ws) => ws.url), [urls[0], urls[1], urls[2], urls[0]]);
  assert.equal(client.url, urls[0]);
  made.at(-1).push({ event: "message", data: message(2) }); // a gap: the client resyncs, here
  await waitConnects(4);
  assert.deepEqual(made.map((ws) => ws.url).slice(4), [urls[0]]);
  for (const url of [[], ["ws://one/v1/ws", "http://two"], [42]]) {
    assert.throws(() => new Client({ url, sdkappid: 1, userId: "a", userSig: "s", WebSocket: FakeSocket }),
                  InvalidArgumentError);
  }
});

test("hosted accounts on several base URLs: a call no process answers goes through the next", async (t) => {
  const seen = [];
  const realFetch = globalThis.fetch;
  t.after(() => { globalThis.fetch = realFetch; });
  globalThis.fetch = async (url) => {
    seen.push(new URL(url).host);
    if (new URL(url).host === "down") throw new TypeError("fetch failed");
    return new Response(JSON.stringify({ sdkappid: 7, name: "Home" }), { status: 200 });
  };
  const home = new HomeAccounts(["http://down/", "http://up"]);
  assert.deepEqual(await home.app(), { sdkappid: 7, name: "Home" });
  assert.deepEqual(seen, ["down", "up"]);
  assert.equal(home.baseUrl, "http://up");
  await home.app(); // the one that answered is kept
  assert.deepEqual(seen, ["down", "up", "up"]);
  const me = { sdkappid: 7, user_id: "ana", usersig: "s", expires_at: 0, session_id: "x", created: false };
  assert.deepEqual(home.client(me, { WebSocket: class {} }).urls, ["ws://up/v1/ws", "ws://down/v1/ws"]);
  globalThis.fetch = async () => { throw new TypeError("fetch failed"); };
  await assert.rejects(home.app(), TypeError); // each base once, then the failure
  assert.throws(() => new HomeAccounts([]), InvalidArgumentError);
  assert.throws(() => new HomeAccounts("ws://x"), InvalidArgumentError);
});

test("the seq tracker: an own ack past a gap waits until the gap closes", () => {
  const t = new SeqTracker({ c: 1 });
  t.own("c", 3);
  assert.equal(t.get("c"), 1);
  assert.equal(t.offer("c", 3), "duplicate");
  assert.equal(t.offer("c", 4), "gap");
  assert.equal(t.offer("c", 2), "new");
  assert.equal(t.get("c"), 3);
  assert.equal(t.offer("c", 4), "new");
});

test("an expired ticket is replaced once through getUserSig; one refused again fails the connect", async (t) => {
  const { FakeSocket } = fakeSockets((frame, ws) => {
    if (frame.op === "login" && frame.data.usersig !== "good") {
      ws.push({ re: frame.id, ok: false, error: { code: 70001, name: "usersig_expired", message: "expired" } });
    } else if (frame.op === "login") {
      ws.push({ re: frame.id, ok: true, data: { ...LOGIN, heartbeat_interval: 25, heartbeat_timeout: 60 } });
    } else if (frame.op === "sync") {
      ws.push({ re: frame.id, ok: true, data: { messages: [], conversations: [], more: false } });
    }
  });
  const options = { url: "ws://fake/v1/ws", sdkappid: 1, userId: "alice", WebSocket: FakeSocket, backoffInitial: 10 };
  let asked = 0;
  const renewed = new Client({ ...options, userSig: "old", getUserSig: () => { asked += 1; return "good"; } });
  t.after(() => renewed.close());
  await renewed.connect();
  assert.equal(asked, 1);
  let tries = 0;
  const stuck = new Client({ ...options, getUserSig: async () => { tries += 1; return "stale"; } });
  await assert.rejects(stuck.connect(), (e) => e instanceof TidingsError && e.is("usersig_expired"));
  assert.equal(tries, 1);
});

test("known stores: the in-memory one keeps copies; the Web Storage one reads back only a valid map", () => {
  const memory = new MemoryKnownStore();
  assert.equal(memory.load("1:alice"), undefined);
  const known = { c2c_bob: 3, group_g: 7 };
  memory.save("1:alice", known);
  known.c2c_bob = 99; // the caller's map changing later changes nothing saved
  assert.deepEqual(memory.load("1:alice"), { c2c_bob: 3, group_g: 7 });
  assert.equal(memory.load("1:carol"), undefined, "one user's position is not another's");
  const loaded = memory.load("1:alice");
  loaded.c2c_bob = 0;
  assert.equal(memory.load("1:alice").c2c_bob, 3);

  const items = new Map();
  const storage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)) };
  const local = new LocalStorageKnownStore("app.", storage);
  local.save("1:alice", { c2c_bob: 3 });
  assert.equal(items.get("app.1:alice"), '{"c2c_bob":3}');
  assert.deepEqual(local.load("1:alice"), { c2c_bob: 3 });
  for (const bad of ["{oops", "[1]", '{"c2c_bob":-1}', '{"c2c_bob":"3"}', '{"c2c_bob":1.5}', "null"]) {
    items.set("app.1:alice", bad);
    assert.equal(local.load("1:alice"), undefined, bad);
  }
  const full = new LocalStorageKnownStore("app.", {
    getItem: () => null, setItem: () => { throw new Error("QuotaExceededError"); } });
  full.save("1:alice", { c2c_bob: 1 }); // refused by the browser: skipped, no throw
  if (globalThis.localStorage === undefined) {
    assert.throws(() => new LocalStorageKnownStore(), InvalidArgumentError, "no localStorage: a clear error");
  }
  assert.throws(() => new Client({ url: "ws://x/v1/ws", sdkappid: 1, userId: "a", userSig: "s",
                                   WebSocket: class {}, knownStore: { load() {} } }), InvalidArgumentError);
});

test("a long run held behind one gap is handed over whole when the gap closes", async (t) => {
  // A loop, not a recursion through deliver: each held entry took stack
  // frames, and a long run overflowed the stack (as the Python SDK's did).
  const run = 10000;
  const { FakeSocket, made } = syncing(() => ({ messages: [message(1)], conversations: [conv(1)] }));
  const client = new Client({ url: "ws://one/v1/ws", sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, gapWait: 60000 });
  t.after(() => client.close());
  const seqs = [];
  client.on("message", (m) => seqs.push(m.seq));
  await client.connect();
  for (let seq = 3; seq <= run + 2; seq++) made[0].push({ event: "message", data: message(seq) });
  assert.deepEqual(seqs, [1], "held past the gap");
  made[0].push({ event: "message", data: message(2) });
  assert.equal(seqs.length, run + 2);
  assert.ok(seqs.every((seq, i) => seq === i + 1), "each once, in order");
  assert.equal(client.connects, 1, "no resync");
  assert.deepEqual(client.known, { c2c_bob: run + 2 });
});

test("a gap in each conversation waits its own gapWait", async (t) => {
  // One timer for all, started by the first hold, resynced a gap opened in
  // another conversation just before it fired.
  const syncs = [];
  const { FakeSocket, made } = syncing((nth) => ({
    messages: nth === 1 ? [message(1), message(1, "c2c_carol")] : [message(2, "c2c_carol"), message(3, "c2c_carol")],
    conversations: [conv(nth === 1 ? 1 : 3), conv(nth === 1 ? 1 : 3, "c2c_carol")],
  }), syncs);
  const wait = 600;
  const client = new Client({ url: "ws://one/v1/ws", sdkappid: 1, userId: "alice", userSig: "sig",
                              WebSocket: FakeSocket, backoffInitial: 10, backoffMax: 20, gapWait: wait });
  t.after(() => client.close());
  const seen = [];
  client.on("message", (m) => seen.push(`${m.conversation_id.slice(4)}${m.seq}`));
  await client.connect();
  const start = Date.now();
  const until = (ms) => new Promise((r) => setTimeout(r, start + ms - Date.now()));
  made[0].push({ event: "message", data: message(3) }); // bob's gap opens
  await until(0.6 * wait);
  made[0].push({ event: "message", data: message(3, "c2c_carol") }); // carol's opens
  made[0].push({ event: "message", data: message(2) }); // bob's heals
  assert.deepEqual(seen, ["bob1", "carol1", "bob2", "bob3"]);
  await until(1.25 * wait); // past bob's first hold's wait, short of carol's
  assert.equal(client.connects, 1, "resynced on the other conversation's timer");
  const deadline = Date.now() + 5000;
  while (seen.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen.slice(4), ["carol2", "carol3"]);
  assert.deepEqual(syncs, [{}, { c2c_bob: 3, c2c_carol: 1 }]);
});
