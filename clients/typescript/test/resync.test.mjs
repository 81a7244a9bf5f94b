// The server is killed (kill -9) and restarted under a client that keeps
// sending: every acked message is delivered once, in seq order, and sends
// in flight are retried with their client_msg_id and stored once; Live
// groups (membership held in the server's memory) are joined again.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { closeAll, connect, control, until, user } from "./helpers.mjs";

after(closeAll);

test("kill -9 and restart under a sending client: nothing acked lost, nothing twice", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await connect(a);
  const bob = await connect(b);
  const bob2 = await connect(b); // bob's other device sees his sends once too
  const to = `c2c_${a}`;
  const acks = [];
  for (let i = 1; i <= 5; i++) acks.push(await bob.client.sendText(to, `m${i}`, { clientMsgId: `id-${i}` }));
  await until(() => alice.inbox.length === 5, 10_000, "the first messages");

  const room = `live-${user("r")}`;
  await bob.client.createGroup({ type: "AVChatRoom", group_id: room });
  await bob.client.liveJoin(room);
  await alice.client.liveJoin(room);
  const live = [];
  alice.client.on("live_message", (m) => live.push(m.elements[0].text));

  await control("kill9");
  await until(() => !alice.client.connected && !bob.client.connected, 10_000, "the clients to see the drop");
  // Sends made while the server is down wait, then go out with their ids.
  const burst = [];
  for (let i = 6; i <= 10; i++) burst.push(bob.client.sendText(to, `m${i}`, { clientMsgId: `id-${i}` }));
  await new Promise((r) => setTimeout(r, 300));
  await control("start");
  acks.push(...(await Promise.all(burst)));
  for (let i = 11; i <= 15; i++) acks.push(await bob.client.sendText(to, `m${i}`, { clientMsgId: `id-${i}` }));

  await until(() => alice.inbox.length >= 15 && bob2.inbox.length >= 15, 20_000, "every message");
  await new Promise((r) => setTimeout(r, 300)); // nothing more may come
  assert.deepEqual(alice.inbox.map((m) => m.seq), Array.from({ length: 15 }, (_, i) => i + 1));
  const bySeq = new Map(acks.map((x) => [x.seq, x.client_msg_id]));
  assert.equal(bySeq.size, 15, "every ack names its own seq");
  for (const m of alice.inbox) assert.equal(m.client_msg_id, bySeq.get(m.seq));
  assert.deepEqual(alice.inbox.map((m) => m.elements[0].text).sort(),
    Array.from({ length: 15 }, (_, i) => `m${i + 1}`).sort());
  assert.deepEqual(bob2.inbox.map((m) => m.seq), alice.inbox.map((m) => m.seq));
  assert.equal(bob.inbox.length, 0, "a device never gets its own sends as events");
  assert.ok(alice.client.connects >= 2);
  assert.deepEqual(alice.client.known, { [`c2c_${b}`]: 15 });

  // Both joined the Live group again on their own.
  await bob.client.liveSend(room, [{ type: "text", text: "still live" }]);
  await until(() => live.length === 1, 10_000, "the live message");
  assert.deepEqual(live, ["still live"]);
  assert.deepEqual([...(await bob.client.liveMembers(room)).members].sort(), [a, b].sort());

  // A retry after the ack is answered with the first ack.
  const again = await bob.client.sendText(to, "m6", { clientMsgId: "id-6" });
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, acks.find((x) => x.client_msg_id === "id-6").seq);
  const page = await alice.client.history(`c2c_${b}`);
  assert.deepEqual(page.messages.map((m) => m.seq), Array.from({ length: 15 }, (_, i) => i + 1));
});
