// The client on a cluster (docs/cluster.md): three processes, each client
// given all their URLs. Run by tests/test_cluster_kill.py, which sets
// TIDINGS_WS_URLS (the processes, comma-separated) and a control server
// that drains (SIGTERM) and kills (kill -9) them by index.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { closeAll, connect, control, until, user } from "./helpers.mjs";

after(closeAll);

const URLS = (process.env.TIDINGS_WS_URLS ?? "").split(",").filter(Boolean);
/** The processes' URLs, starting with the `first`th. */
const from = (first) => [...URLS.slice(first), ...URLS.slice(0, first)];

test("a cluster's process drained, then another killed: each client moves on, every acked message once", async () => {
  assert.equal(URLS.length, 3, "TIDINGS_WS_URLS: three processes");
  const [a, b] = [user("alice"), user("bob")];
  // alice starts on process 1 (drained), bob on 2 (then killed); bob's
  // second device stays on 0 all along.
  // Patient requests: the machine running the cluster may be loaded.
  const patient = { sendTimeout: 120_000, requestTimeout: 60_000 };
  const alice = await connect(a, { url: from(1), ...patient });
  const bob = await connect(b, { url: from(2), ...patient });
  const bob2 = await connect(b, { url: from(0), ...patient });
  // Each client's state changes, timed: what a hang's report needs.
  for (const [name, side] of [["alice", alice], ["bob", bob], ["bob2", bob2]]) {
    side.client.on("state", (state) => console.error(
      `${new Date().toISOString()} ${name} ${state} ${side.client.url} ${side.client.connects}`));
  }
  const acked = { [a]: new Map(), [b]: new Map() }; // sender -> client_msg_id -> seq
  const perSender = 30;
  let done = 0;
  const marks = [];
  const reached = (n) => new Promise((resolve) => marks.push([n, resolve]));
  const sendAll = async (side, peer) => {
    let next = 0;
    const worker = async () => {
      while (next < perSender) {
        const ack = await side.client.sendText(`c2c_${peer}`, `${next++}`);
        acked[side.client.userId].set(ack.client_msg_id, ack.seq);
        done += 1;
        for (const [n, resolve] of marks) if (done >= n) resolve();
      }
    };
    await Promise.all([worker(), worker(), worker()]); // three in flight
  };
  const senders = Promise.all([sendAll(alice, b), sendAll(bob, a)]);
  const step = (what) => console.error(`${new Date().toISOString()} ${what}: ${done} acked;`,
    [alice, bob, bob2].map((s) => `${s.client.state} ${s.client.url} ${s.client.connects}`).join(", "));

  await Promise.race([reached((2 * perSender) / 3), senders]); // a send that fails fails the test
  step("drain 1");
  await control("drain?node=1"); // answered once the process exited
  step("drained");
  await until(() => alice.client.connected && alice.client.url === URLS[2], 20_000,
              "alice on the next URL after the drain");
  await Promise.race([reached((4 * perSender) / 3), senders]);
  step("kill 2");
  await control("kill9?node=2");
  await senders;
  step("sent");
  for (const side of [alice, bob]) { // the last word, after every ack
    const peer = side === alice ? b : a;
    const ack = await side.client.sendText(`c2c_${peer}`, "end");
    acked[side.client.userId].set(ack.client_msg_id, ack.seq);
    step(`${side === alice ? "alice" : "bob"}'s last word acked`);
  }
  const ended = (inbox, sender) => inbox.some((m) => m.sender === sender && m.elements[0].text === "end");
  await until(() => ended(alice.inbox, b) && ended(bob.inbox, a) && ended(bob2.inbox, a), 60_000,
              "every side's last word");
  step("last words delivered");
  await new Promise((r) => setTimeout(r, 300)); // nothing more may come

  for (const [all, sender] of [[alice.inbox, b], [bob.inbox, a], [bob2.inbox, a]]) {
    const inbox = all.filter((m) => m.sender === sender); // bob2 has bob's own too
    const seqs = inbox.map((m) => m.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), "once each, in seq order");
    assert.deepEqual(new Map(inbox.map((m) => [m.client_msg_id, m.seq])), acked[sender],
                     "every acked message, with its acked seq");
  }
  // Neither the drained process nor the killed one is in use: both went to
  // 0. bob2 never left it: a resync after a gap (two processes' frames of
  // one conversation may cross) reconnects to the same URL.
  assert.deepEqual([alice.client.url, bob.client.url, bob2.client.url], [URLS[0], URLS[0], URLS[0]]);
  assert.ok(alice.client.connects >= 3 && bob.client.connects >= 2,
            `connects: ${alice.client.connects} ${bob.client.connects}`);
  // The REST side follows the connection (processes 1 and 2 are down): an
  // upload and its download go through process 0.
  const bytes = new TextEncoder().encode("after the moves");
  step("upload");
  const stored = await alice.client.upload(bytes, { name: "a.txt", kind: "file" });
  assert.deepEqual(new Uint8Array(await alice.client.download(stored.media_id)), bytes);
});
