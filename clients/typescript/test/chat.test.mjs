// Send and receive, one-to-one and in a group; history; the read cursor and
// the conversation list; bad input to the SDK and to the server.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { WebSocket } from "ws";
import {
  Client, ClientClosedError, ConversationList, ErrorCodes, InvalidArgumentError, LocalStorageKnownStore,
  TidingsError,
} from "tidings-client";
import { SDKAPPID, URL, connect, until, user, userSig, closeAll, closeLater } from "./helpers.mjs";

after(closeAll);
const login = connect;

test("one-to-one: each side gets the other's messages once, in order", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bob = await login(b);
  const acks = [];
  for (const text of ["hi bob", "how are you?", "🙂"]) acks.push(await alice.client.sendText(`c2c_${b}`, text));
  assert.deepEqual(acks.map((x) => [x.seq, x.duplicate]), [[1, false], [2, false], [3, false]]);
  await until(() => bob.inbox.length === 3, 10_000, "bob's messages");
  assert.deepEqual(bob.inbox.map((m) => [m.conversation_id, m.sender, m.seq, m.elements[0].text]),
    [[`c2c_${a}`, a, 1, "hi bob"], [`c2c_${a}`, a, 2, "how are you?"], [`c2c_${a}`, a, 3, "🙂"]]);
  const ack = await bob.client.reply(`c2c_${a}`, 2, "fine");
  await until(() => alice.inbox.length === 1);
  assert.equal(alice.inbox[0].seq, ack.seq);
  const [quote, reply] = alice.inbox[0].elements;
  assert.deepEqual([quote.type, quote.seq, quote.text, reply.text], ["quote", 2, "how are you?", "fine"]);
  // The same client_msg_id again is the same message: the first ack, no event.
  const again = await alice.client.sendText(`c2c_${b}`, "hi bob", { clientMsgId: acks[0].client_msg_id });
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, 1);
  assert.deepEqual(alice.client.known, { [`c2c_${b}`]: 4 });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(bob.inbox.length, 3);
});

test("client message ids rise with time: 32 hex digits, the milliseconds first", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const first = await alice.client.sendText(`c2c_${b}`, "one");
  await new Promise((r) => setTimeout(r, 3));
  const second = await alice.client.sendText(`c2c_${b}`, "two");
  for (const id of [first.client_msg_id, second.client_msg_id]) assert.match(id, /^[0-9a-f]{32}$/);
  assert.ok(first.client_msg_id < second.client_msg_id, `${first.client_msg_id} then ${second.client_msg_id}`);
  const at = parseInt(second.client_msg_id.slice(0, 12), 16);
  assert.ok(Math.abs(at - Date.now()) < 60_000, `${at} is not now`);
  const many = new Set(Array.from({ length: 1000 }, () => alice.client.newClientMsgId()));
  assert.equal(many.size, 1000);
});

test("a group: the creator's messages reach every member once", async () => {
  const [o, m1, m2] = [user("owner"), user("m1"), user("m2")];
  const owner = await login(o);
  const one = await login(m1);
  const two = await login(m2);
  const made = await owner.client.createGroup({ type: "Work", name: "team", members: [m1, m2] });
  const cid = `group_${made.group_id}`;
  await owner.client.sendText(cid, "welcome", { mentions: [m1] });
  await two.client.sendText(cid, "thanks");
  await until(() => one.inbox.length === 2 && two.inbox.length === 1, 10_000, "group messages");
  await until(() => owner.inbox.length === 1, 10_000, "the owner's copy of the reply");
  assert.deepEqual(one.inbox.map((m) => [m.sender, m.elements[0].text]), [[o, "welcome"], [m2, "thanks"]]);
  assert.deepEqual(one.inbox[0].mentions, [m1]);
  assert.deepEqual(two.inbox.map((m) => m.sender), [o]); // its own send comes back as the ack only
  const info = await one.client.groupInfo(made.group_id);
  assert.equal(info.name, "team");
});

test("history pages back, oldest first; read and the conversation list", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  for (let i = 1; i <= 7; i++) await alice.client.sendText(`c2c_${b}`, `m${i}`);
  const bob = await login(b);
  const list = new ConversationList(bob.client);
  let changes = 0;
  list.subscribe(() => { changes += 1; });
  await list.load();
  assert.equal(list.get(`c2c_${a}`).unread, 7);
  const newest = await bob.client.history(`c2c_${a}`, { limit: 3 });
  assert.deepEqual(newest.messages.map((m) => m.seq), [5, 6, 7]);
  assert.equal(newest.more, true);
  const older = await bob.client.history(`c2c_${a}`, { beforeSeq: 5, limit: 10 });
  assert.deepEqual(older.messages.map((m) => m.elements[0].text), ["m1", "m2", "m3", "m4"]);
  assert.equal(older.more, false);
  const read = await bob.client.markRead(`c2c_${a}`, 5);
  assert.deepEqual(read, { conversation_id: `c2c_${a}`, read_seq: 5, unread: 2 });
  await alice.client.sendText(`c2c_${b}`, "m8");
  await until(() => list.get(`c2c_${a}`).last_seq === 8, 10_000, "the list to update");
  assert.equal(list.getSnapshot()[0].last_message.elements[0].text, "m8");
  assert.equal(list.get(`c2c_${a}`).unread, 3);
  assert.equal(list.totalUnread, 3);
  assert.ok(changes >= 2);
  // This device's own settings reach the list as they reach the others'.
  const settings = await bob.client.setConversation(`c2c_${a}`, { pinned: true });
  assert.deepEqual([settings.conversation_id, settings.pinned], [`c2c_${a}`, true]);
  assert.equal(list.get(`c2c_${a}`).pinned, true);
  await bob.client.hideConversation(`c2c_${a}`);
  assert.deepEqual(list.getSnapshot(), []);
  await alice.client.sendText(`c2c_${b}`, "m9");
  await until(() => list.getSnapshot().length === 1, 10_000, "the conversation to come back");
  // Bob's own sends, which the server does not echo to this device, reach
  // his list too: a new conversation and a newer last message.
  const carol = user("carol");
  const ack = await bob.client.sendText(`c2c_${carol}`, "hello carol");
  assert.equal(list.getSnapshot()[0].conversation_id, `c2c_${carol}`);
  assert.equal(list.get(`c2c_${carol}`).last_seq, ack.seq);
  assert.equal(list.get(`c2c_${carol}`).last_message.elements[0].text, "hello carol");
  assert.equal(list.get(`c2c_${carol}`).unread, 0);
  await bob.client.sendText(`c2c_${a}`, "back to alice");
  assert.equal(list.getSnapshot()[0].conversation_id, `c2c_${a}`);
  assert.equal(list.get(`c2c_${a}`).last_message.elements[0].text, "back to alice");
  // Sending moves the sender's cursor: everything before it is read.
  assert.deepEqual([list.get(`c2c_${a}`).read_seq, list.get(`c2c_${a}`).unread], [10, 0]);
  list.dispose();
});

/** Makes the list's next load hold the server's answer (the list as the
 * server read it) while `meanwhile()` runs: what it does reaches the
 * client as live events before the answer is handed over. */
function holdNextAnswer(client, meanwhile) {
  const conversations = client.conversations;
  client.conversations = async (limit) => {
    client.conversations = conversations;
    const reply = await conversations.call(client, limit);
    await meanwhile();
    return reply;
  };
}

const row = (c) => [c.last_seq, c.read_seq, c.unread, c.last_message?.elements[0].text, c.pinned];

test("a list answer read before live events keeps them: a message, its unread count, a read, a pin", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const cid = `c2c_${a}`;
  const alice = await login(a);
  await alice.client.sendText(`c2c_${b}`, "one");
  const bob = await login(b);
  const other = await login(b); // bob's other device
  const list = new ConversationList(bob.client);
  await list.load();
  assert.deepEqual(row(list.get(cid)), [1, 0, 1, "one", false]);
  holdNextAnswer(bob.client, async () => {
    await other.client.markRead(cid, 1);
    await alice.client.sendText(`c2c_${b}`, "two");
    await other.client.setConversation(cid, { pinned: true });
    await until(() => list.get(cid).last_seq === 2 && list.get(cid).pinned, 10_000, "the live events");
    assert.deepEqual(row(list.get(cid)), [2, 1, 1, "two", true]);
  });
  const shown = await list.load();
  // The answer had [1, 0, 1, "one", false]: the events since stay on top of it.
  assert.deepEqual(row(list.get(cid)), [2, 1, 1, "two", true]);
  assert.deepEqual(shown.map(row), [[2, 1, 1, "two", true]]);
  assert.equal(list.totalUnread, 1);
  // A load with nothing on its way: the server's list, the same.
  await list.load();
  assert.deepEqual(row(list.get(cid)), [2, 1, 1, "two", true]);
  list.dispose();
});

test("a read state older than the cursor held changes nothing (markRead's answer, overtaken)", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const cid = `c2c_${a}`;
  const alice = await login(a);
  for (const text of ["m1", "m2", "m3"]) await alice.client.sendText(`c2c_${b}`, text);
  const bob = await login(b);
  const other = await login(b);
  const list = new ConversationList(bob.client);
  await list.load();
  assert.deepEqual([list.get(cid).read_seq, list.get(cid).unread], [0, 3]);
  // This device's markRead(1) is answered; before its answer is handed
  // over, the other device reads up to 3 and that read reaches the list.
  const request = bob.client.request;
  bob.client.request = async (op, data, timeoutMs) => {
    const reply = await request.call(bob.client, op, data, timeoutMs);
    if (op === "read") {
      bob.client.request = request;
      await other.client.markRead(cid, 3);
      await until(() => list.get(cid).read_seq === 3, 10_000, "the other device's read");
    }
    return reply;
  };
  const stale = await bob.client.markRead(cid, 1);
  assert.deepEqual([stale.read_seq, stale.unread], [1, 2]);
  assert.deepEqual([list.get(cid).read_seq, list.get(cid).unread, list.totalUnread], [3, 0, 0]);
  list.dispose();
});

test("a hide that came while the list was asked for stays undone by a newer message the answer has", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const cid = `c2c_${a}`;
  const alice = await login(a);
  await alice.client.sendText(`c2c_${b}`, "one");
  const bob = await login(b);
  const other = await login(b);
  const list = new ConversationList(bob.client);
  await list.load();
  // The other device hides it, then alice writes again (a new message
  // shows it again); the list is read after both, and the message's event
  // reaches the list only after the answer (held back here).
  const emit = bob.client.emit;
  const late = [];
  bob.client.emit = function (event, value) {
    if (event === "message") late.push(value);
    else emit.call(this, event, value);
  };
  const conversations = bob.client.conversations;
  bob.client.conversations = async (limit) => {
    bob.client.conversations = conversations;
    await other.client.hideConversation(cid);
    await until(() => list.getSnapshot().length === 0, 10_000, "the hide");
    await alice.client.sendText(`c2c_${b}`, "two");
    await until(() => late.length === 1, 10_000, "the message");
    return conversations.call(bob.client, limit);
  };
  await list.load();
  bob.client.emit = emit;
  for (const m of late.splice(0)) emit.call(bob.client, "message", m);
  assert.deepEqual(list.getSnapshot().map(row), [[2, 0, 2, "two", false]]);
  list.dispose();
});

test("a conversation not held: a message shows it at once, then its state comes from the server", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const cid = `c2c_${a}`;
  const alice = await login(a);
  for (const text of ["one", "two"]) await alice.client.sendText(`c2c_${b}`, text);
  const bob = await login(b);
  // Muted and hidden (hiding marks nothing read) before the list is loaded.
  await bob.client.setConversation(cid, { muted: true, draft: "later" });
  await bob.client.hideConversation(cid);
  const list = new ConversationList(bob.client);
  await list.load();
  assert.equal(list.get(cid), undefined);
  // The list's asks by id; each answer, read by the server, is handed over
  // only once `release` is called.
  const asked = [];
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  const conversations = bob.client.conversations;
  bob.client.conversations = async (limit, ids) => {
    const reply = await conversations.call(bob.client, limit, ids);
    if (ids !== undefined) {
      asked.push(ids);
      await released;
    }
    return reply;
  };
  await alice.client.sendText(`c2c_${b}`, "three");
  await until(() => list.get(cid)?.last_seq === 3, 10_000, "the message");
  // Shown at once, from the message alone.
  assert.deepEqual(row(list.get(cid)), [3, 0, 1, "three", false]);
  await until(() => asked.length === 1, 10_000, "the list to ask for the conversation");
  assert.deepEqual(asked, [[cid]]);
  // A message that comes while the answer (read before it) is held stays on top of it.
  await alice.client.sendText(`c2c_${b}`, "four");
  await until(() => list.get(cid).last_seq === 4, 10_000, "the next message");
  release();
  await until(() => list.get(cid).muted, 10_000, "the conversation's state from the server");
  const got = list.get(cid);
  assert.deepEqual([...row(got), got.muted, got.draft, got.hidden], [4, 0, 4, "four", false, true, "later", false]);
  assert.deepEqual(list.getSnapshot().map((c) => c.conversation_id), [cid]);
  assert.equal(list.totalUnread, 0); // muted
  // A message for a conversation held asks nothing.
  await alice.client.sendText(`c2c_${b}`, "five");
  await until(() => list.get(cid).last_seq === 5, 10_000, "the fifth message");
  assert.deepEqual([list.get(cid).unread, list.get(cid).muted, list.totalUnread], [5, true, 0]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(asked.length, 1);
  bob.client.conversations = conversations;
  list.dispose();
});

test("beyond the list's limit: a message brings the conversation with the server's unread count", async () => {
  const [a, b, c] = [user("alice"), user("bob"), user("carol")];
  const cid = `c2c_${a}`;
  const alice = await login(a);
  const carol = await login(c);
  for (const text of ["x1", "x2"]) await alice.client.sendText(`c2c_${b}`, text);
  await carol.client.sendText(`c2c_${b}`, "y1");
  const bob = await login(b);
  const list = new ConversationList(bob.client, 1);
  await list.load();
  assert.deepEqual(list.getSnapshot().map((x) => x.conversation_id), [`c2c_${c}`]);
  await alice.client.sendText(`c2c_${b}`, "x3");
  await until(() => list.get(cid)?.unread === 3, 10_000, "alice's conversation as the server has it");
  assert.deepEqual(row(list.get(cid)), [3, 0, 3, "x3", false]);
  assert.deepEqual(list.getSnapshot().map((x) => x.conversation_id), [cid, `c2c_${c}`]);
  assert.equal(list.totalUnread, 4);
  list.dispose();
});

test("recall, edit and reactions reach the peer as changes and events", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bob = await login(b);
  const changes = [];
  const reactions = [];
  bob.client.on("change", (c) => changes.push(c));
  bob.client.on("reaction", (r) => reactions.push(r));
  const first = await alice.client.sendText(`c2c_${b}`, "typo");
  const second = await alice.client.sendText(`c2c_${b}`, "oops");
  await alice.client.edit(`c2c_${b}`, first.seq, { elements: [{ type: "text", text: "fixed" }] });
  const recalled = await alice.client.recall(`c2c_${b}`, second.seq);
  assert.equal(recalled.kind, "recall");
  await bob.client.react(`c2c_${a}`, first.seq, "👍");
  await until(() => changes.length === 2, 10_000, "the changes");
  assert.deepEqual(changes.map((c) => [c.kind, c.target_seq]), [["edit", first.seq], ["recall", second.seq]]);
  assert.equal(changes[0].target.elements[0].text, "fixed");
  const edits = await bob.client.history(`c2c_${a}`);
  assert.deepEqual(edits.messages.map((m) => m.state), ["edited", "recalled"]);
  assert.equal(reactions.length, 0); // the reactor's own: reported to its other devices only
});

test("bad input: clear errors before sending, stable codes from the server", async () => {
  assert.throws(() => new Client({ url: "http://x", sdkappid: SDKAPPID, userId: "a", userSig: "s", WebSocket }),
    InvalidArgumentError);
  assert.throws(() => new Client({ url: URL, sdkappid: "1", userId: "a", userSig: "s", WebSocket }),
    InvalidArgumentError);
  assert.throws(() => new Client({ url: URL, sdkappid: SDKAPPID, userId: "a", WebSocket }), InvalidArgumentError);
  const a = user("alice");
  const alice = await login(a);
  await assert.rejects(alice.client.sendText(42, "x"), InvalidArgumentError);
  await assert.rejects(alice.client.send(`c2c_${a}x`, []), InvalidArgumentError);
  await assert.rejects(alice.client.sendText("nonsense", "x"), (e) =>
    e instanceof TidingsError && e.code === ErrorCodes.invalid_conversation_id && e.is("invalid_conversation_id"));
  await assert.rejects(alice.client.send(`c2c_${user("b")}`, [{ type: "sticker" }]), (e) =>
    e instanceof TidingsError && e.code === 90002 && e.codeName === "invalid_message_body");
  await assert.rejects(alice.client.recall(`c2c_${user("b")}`, 0), InvalidArgumentError);
  await assert.rejects(alice.client.request("history", { conversation_id: `c2c_${user("b")}`, limit: "x" }),
    (e) => e instanceof TidingsError && e.code === ErrorCodes.invalid_request);
  assert.equal(alice.client.connected, true); // refusals leave the connection as it was
  alice.client.close();
  await assert.rejects(alice.client.sendText(`c2c_${user("b")}`, "late"), ClientClosedError);
  await assert.rejects(alice.client.connect(), ClientClosedError);
});

test("a refused ticket: a bad one fails the connect with its code; an expired one is refreshed", async () => {
  const a = user("alice");
  const forged = new Client({ url: URL, sdkappid: SDKAPPID, userId: a, userSig: "eJyrVgrxCdYrLkksSVWyUlA0MDBU0lEKSSzJzEsF8s3NDAyNDGLx", WebSocket });
  await assert.rejects(forged.connect(), (e) => e instanceof TidingsError && e.code >= 70000 && e.code < 71000);
  assert.equal(forged.state, "closed");
  let asked = 0;
  const refreshed = new Client({
    url: URL, sdkappid: SDKAPPID, userId: a, WebSocket, userSig: await userSig(user("someone-else")),
    getUserSig: () => { asked += 1; return userSig(a); },
  });
  closeLater(refreshed);
  // A ticket of another user is not refreshable: the app's code is wrong.
  await assert.rejects(refreshed.connect(), (e) => e.is?.("usersig_user_mismatch"));
  const expired = new Client({
    url: URL, sdkappid: SDKAPPID, userId: a, WebSocket,
    userSig: await (await fetch(`${process.env.TIDINGS_CONTROL}/usersig?user=${a}&expire=-10`)).text(),
    getUserSig: () => { asked += 1; return userSig(a); },
  });
  closeLater(expired);
  await expired.connect();
  assert.equal(asked, 1);
  assert.equal(expired.connected, true);
});

test("a client resumed from its saved known map gets what it missed, changes included, once", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const bob = await login(b);
  const first = await login(a);
  await bob.client.sendText(`c2c_${a}`, "one");
  const two = await bob.client.sendText(`c2c_${a}`, "two");
  await until(() => first.inbox.length === 2, 10_000, "the first messages");
  const saved = first.client.known;
  first.client.close();
  await bob.client.edit(`c2c_${a}`, two.seq, { elements: [{ type: "text", text: "two (edited)" }] });
  await bob.client.sendText(`c2c_${a}`, "three");
  const g = await bob.client.createGroup({ type: "Work", name: "later", members: [a] });
  await bob.client.sendText(`group_${g.group_id}`, "in the group");
  const back = await login(a, { known: saved });
  await until(() => back.inbox.length === 2, 10_000, "what was missed");
  const c2c = back.entries.filter((e) => e.conversation_id === `c2c_${b}`);
  assert.deepEqual(c2c.map((e) => [e.seq, e.kind]), [[3, "edit"], [4, "message"]]);
  assert.equal(c2c[0].target.elements[0].text, "two (edited)");
  const group = back.entries.filter((e) => e.conversation_id === `group_${g.group_id}`);
  assert.deepEqual(group.map((e) => e.seq), group.map((_, i) => i + 1), "the new group from its first entry");
  // In seq order per conversation; conversations need not come in any order.
  assert.deepEqual(back.inbox.map((m) => [m.conversation_id, m.elements[0].text]).sort(),
    [[`c2c_${b}`, "three"], [`group_${g.group_id}`, "in the group"]].sort());
  const known = back.client.known;
  assert.equal(known[`c2c_${b}`], 4);
  assert.ok(known[`group_${g.group_id}`] >= 1);
});

test("a member added later catches up from the join, not before it", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bob = await login(b);
  const g = `tsg-${randomBytes(5).toString("hex")}`;
  await alice.client.createGroup({ type: "Work", group_id: g });
  for (const i of [0, 1, 2]) await alice.client.sendText(`group_${g}`, `before ${i}`);
  await alice.client.inviteToGroup(g, [b]);
  const welcome = await alice.client.sendText(`group_${g}`, "welcome");
  await until(() => bob.inbox.length === 1, 10_000, "the welcome");
  assert.deepEqual([bob.inbox[0].elements[0].text, bob.inbox[0].seq], ["welcome", welcome.seq]);
  assert.equal(bob.client.known[`group_${g}`], welcome.seq);
  const seen = bob.entries.filter((e) => e.conversation_id === `group_${g}`);
  assert.deepEqual(seen.map((e) => e.kind), ["system", "message"], "the join, then the welcome");
});

test("a page reloaded with a known store resumes where it stood: what it missed once, nothing again", async () => {
  const [a, b] = [user("alice"), user("bob")];
  // The page's localStorage (Node has none): one Web Storage for both runs.
  const items = new Map();
  const storage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)) };
  const store = new LocalStorageKnownStore("page.", storage);
  const saved = () => JSON.parse(items.get(`page.${SDKAPPID}:${a}`) ?? "{}");
  const bob = await login(b);
  await bob.client.sendText(`c2c_${a}`, "one");
  const first = await login(a, { knownStore: store });
  assert.deepEqual(first.inbox.map((m) => m.elements[0].text), ["one"]);
  await bob.client.sendText(`c2c_${a}`, "two");
  await until(() => saved()[`c2c_${b}`] === 2, 10_000, "the position saved after the live message");
  assert.equal(first.inbox.length, 2);
  first.client.close(); // the page goes away
  await bob.client.sendText(`c2c_${a}`, "three");
  await bob.client.sendText(`c2c_${a}`, "four");
  const second = await login(a, { knownStore: store }); // the page reloaded: same store, no `known`
  assert.deepEqual(second.inbox.map((m) => [m.seq, m.elements[0].text]), [[3, "three"], [4, "four"]]);
  await until(() => saved()[`c2c_${b}`] === 4, 10_000, "the position saved after the resync");
  // A `known` given outright wins over the store.
  const third = await login(a, { knownStore: store, known: { [`c2c_${b}`]: 3 } });
  assert.deepEqual(third.inbox.map((m) => m.elements[0].text), ["four"]);
  // Any object with load and save will do: the client reads the position
  // of its own app and user before the first sync.
  const asked = [];
  const custom = { load: async (scope) => { asked.push(scope); return { [`c2c_${b}`]: 4 }; }, save: () => {} };
  const fourth = await login(a, { knownStore: custom });
  assert.deepEqual([asked, fourth.inbox.length], [[`${SDKAPPID}:${a}`], 0]);
  for (const run of [second, third, fourth]) run.client.close();
});
