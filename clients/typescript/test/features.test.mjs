// The feature methods beyond chat: uploads in parts with progress and
// signed downloads, friends and blocks, typing and settings events, search,
// profiles, and hosted (home) accounts over REST.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { WebSocket } from "ws";
import { ConversationList, HomeAccounts, TidingsError, httpBase } from "tidings-client";
import { CONTROL, SDKAPPID, URL, connect, until, user, closeAll, closeLater } from "./helpers.mjs";

after(closeAll);
const login = connect;

test("an upload in parts reports its progress; the peer downloads the same bytes", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bob = await login(b);
  const bytes = randomBytes(300 * 1024);
  const seen = [];
  const ack = await alice.client.sendMedia(`c2c_${b}`, bytes, {
    kind: "file", name: "notes.bin", partBytes: 128 * 1024, onProgress: (p) => seen.push(p) });
  assert.deepEqual(seen.map((p) => p.sent), [0, 128 * 1024, 256 * 1024, bytes.length]);
  assert.ok(seen.every((p) => p.total === bytes.length));
  await until(() => bob.inbox.length === 1, 10_000, "the file message");
  const [element] = bob.inbox[0].elements;
  assert.equal(element.type, "file");
  assert.equal(element.name, "notes.bin");
  assert.equal(bob.inbox[0].seq, ack.seq);
  const { url } = await bob.client.mediaUrl(element.media_id);
  assert.ok(url.startsWith(httpBase(URL)), url);
  const got = Buffer.from(await bob.client.download(element.media_id));
  assert.ok(got.equals(bytes));
  // Small files go up in one request; refusals keep the server's code.
  const small = await alice.client.upload(new Uint8Array([1, 2, 3]), { name: "x.bin" });
  assert.equal(small.element.type, "file");
  await assert.rejects(alice.client.upload(new TextEncoder().encode("#!/bin/sh\necho hi\n"), { kind: "image" }),
    (e) => e instanceof TidingsError && e.code === 95002);
});

test("an upload whose connection breaks goes on from where the server stands", async (t) => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bytes = randomBytes(200 * 1024);
  const realFetch = globalThis.fetch;
  t.after(() => { globalThis.fetch = realFetch; });
  let puts = 0;
  // The second part reaches the server, but its answer is lost on the way back.
  globalThis.fetch = async (url, init) => {
    const reply = await realFetch(url, init);
    if (init?.method === "PUT" && ++puts === 2) throw new TypeError("fetch failed");
    return reply;
  };
  const seen = [];
  const done = await alice.client.upload(bytes, { name: "big.bin", partBytes: 64 * 1024, onProgress: (p) => seen.push(p.sent) });
  globalThis.fetch = realFetch;
  assert.equal(puts, 4, "the part that arrived was not sent again");
  assert.deepEqual(seen, [0, 64 * 1024, 128 * 1024, 192 * 1024, bytes.length]);
  const { url } = await alice.client.mediaUrl(done.media_id);
  assert.ok(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(bytes));
  await alice.client.sendMedia(`c2c_${b}`, new Blob([bytes]), { kind: "file", name: "again.bin" });
});

test("friends and blocks, typing and settings from another device", async () => {
  const [a, b] = [user("alice"), user("bob")];
  const alice = await login(a);
  const bob = await login(b);
  const alice2 = await login(a);
  const requests = [];
  bob.client.on("friend_request", (r) => requests.push(r));
  const asked = await alice.client.addFriend({ user_id: b, wording: "hi" });
  assert.ok(["pending", "added"].includes(asked.result), JSON.stringify(asked));
  if (asked.result === "pending") {
    await until(() => requests.length === 1, 10_000, "the friend request");
    assert.equal(requests[0].from, a);
    await bob.client.acceptFriend(a);
  }
  const friends = await alice.client.friends();
  assert.deepEqual(friends.friends.map((f) => f.user_id), [b]);
  const pest = user("pest");
  await alice.client.block([pest]);
  assert.deepEqual((await alice.client.blocklist()).blocked.map((x) => x.user_id), [pest]);

  const typing = [];
  bob.client.on("typing", (t) => typing.push(t));
  await alice.client.sendText(`c2c_${b}`, "hello");
  await alice.client.typing(`c2c_${b}`);
  await until(() => typing.length === 1, 10_000, "the typing event");
  assert.deepEqual([typing[0].user_id, typing[0].typing], [a, true]);

  const settings = [];
  alice2.client.on("conversation_settings", (s) => settings.push(s));
  await alice.client.setConversation(`c2c_${b}`, { pinned: true });
  await until(() => settings.length === 1, 10_000, "the settings event");
  assert.equal(settings[0].pinned, true);

  const found = await bob.client.search({ q: "hello" });
  assert.deepEqual(found.results.map((r) => r.conversation_id), [`c2c_${a}`]);
  const profiles = await bob.client.getProfiles([a]);
  assert.ok(JSON.stringify(profiles).includes(a));
});

test("a hosted account registers, signs in, chats and signs out", async () => {
  const home = new HomeAccounts(httpBase(URL));
  const name = `ts_${randomBytes(4).toString("hex")}`;
  const made = await home.register(name, "correct horse battery");
  assert.equal(made.created, true);
  await assert.rejects(home.signInPassword(name, "wrong password"),
    (e) => e instanceof TidingsError && e.is("home_bad_credentials"));
  const me = await home.signInPassword(name, "correct horse battery");
  const client = home.client(me, { WebSocket });
  closeLater(client);
  await client.connect();
  assert.equal(client.userId, me.user_id);
  assert.equal((await home.me(me)).username, name);
  const listed = (await home.sessions(me)).sessions;
  assert.deepEqual(Object.fromEntries(listed.map((s) => [s.session_id, s.current])),
    { [made.session_id]: false, [me.session_id]: true });
  await home.signOutSession(me, made.session_id);
  await assert.rejects(home.me(made), (e) => e instanceof TidingsError && e.is("usersig_revoked"));
  await assert.rejects(home.signOutSession(me, made.session_id),
    (e) => e instanceof TidingsError && e.is("not_found"));
  await home.signOut(me);
  await assert.rejects(home.me(me), (e) => e instanceof TidingsError && e.is("usersig_revoked"));
});

test("a hosted account links an app identity, chats as it, asks by id, and unlinks", async () => {
  const home = new HomeAccounts(httpBase(URL));
  const me = await home.register(`ts_${randomBytes(4).toString("hex")}`, "correct horse battery");
  const messenger = closeLater(home.client(me, { WebSocket }));
  const relayed = [];
  messenger.on("message", (m) => relayed.push(m));
  await messenger.connect();
  const own = new ConversationList(messenger);
  await own.load();
  const [carol, bob] = [user("carol"), user("bob")];
  const shopBob = await login(bob);
  const ticket = await (await fetch(`${CONTROL}/linkticket?user=${carol}`)).text();
  const preview = await messenger.linkPreview({ sdkappid: SDKAPPID, ticket, to: bob });
  assert.equal(preview.linked, false);
  const made = await messenger.linkConfirm({ sdkappid: SDKAPPID, ticket, to: bob });
  const qualified = made.action.conversation_id;
  assert.equal(qualified, `app:${SDKAPPID}:c2c_${bob}`);
  await assert.rejects(messenger.linkConfirm({ sdkappid: SDKAPPID, ticket, to: bob }),
    (e) => e instanceof TidingsError && e.is("link_ticket_used"));
  for (const n of [0, 1, 2]) await shopBob.client.sendText(`c2c_${carol}`, `m${n}`);
  await until(() => relayed.length === 3, 10_000, "the relayed messages");
  assert.deepEqual(relayed.map((m) => [m.conversation_id, m.elements[0].text]),
    [0, 1, 2].map((n) => [qualified, `m${n}`]));
  assert.deepEqual(own.getSnapshot(), []); // relayed: the linked identity's, not the account's own
  const ack = await messenger.linkSend(qualified, [{ type: "text", text: "answer" }]);
  assert.equal(ack.conversation_id, qualified);
  await until(() => shopBob.inbox.length === 1, 10_000, "the answer");
  assert.deepEqual([shopBob.inbox[0].sender, shopBob.inbox[0].elements[0].text], [carol, "answer"]);
  // Hidden by the app's own client: out of the linked list, there by id
  // (conversationIds), with its state and the peer's card.
  const shopCarol = await login(carol);
  await shopCarol.client.hideConversation(`c2c_${bob}`);
  const listed = (await messenger.linkConversations()).apps;
  assert.deepEqual(listed.map((g) => [g.app.sdkappid, g.conversations.length]), [[SDKAPPID, 0]]);
  const [byId] = (await messenger.linkConversations({ conversation_ids: [qualified] })).apps;
  assert.deepEqual(byId.conversations.map((c) => [c.conversation_id, c.hidden, c.last_seq, c.unread]),
    [[qualified, true, 4, 0]]);
  assert.equal(byId.conversations[0].peer_card.user_id, bob);
  await assert.rejects(messenger.linkConversations({ conversation_ids: [`c2c_${bob}`] }),
    (e) => e instanceof TidingsError && e.is("invalid_conversation_id"));
  assert.deepEqual((await messenger.links()).links.map((x) => x.app.sdkappid), [SDKAPPID]);
  await messenger.unlink(SDKAPPID);
  assert.deepEqual((await messenger.links()).links, []);
  await assert.rejects(messenger.linkSend(qualified, [{ type: "text", text: "late" }]),
    (e) => e instanceof TidingsError && e.is("not_linked"));
});

test("join applications: apply, the owner's event, approve, then a member", async () => {
  const [a, d] = [user("alice"), user("dave")];
  const alice = await login(a);
  const dave = await login(d);
  const asked = [];
  alice.client.on("group_join_request", (r) => asked.push(r));
  const g = `tsj-${randomBytes(5).toString("hex")}`;
  await alice.client.createGroup({ type: "Public", group_id: g });
  assert.equal((await dave.client.applyToGroup(g, "hi")).state, "pending");
  await assert.rejects(dave.client.applyToGroup(g), (e) => e instanceof TidingsError && e.is("group_join_request_pending"));
  await until(() => asked.length === 1, 10_000, "the application event");
  assert.deepEqual([asked[0].user_id, asked[0].message], [d, "hi"]);
  assert.deepEqual((await alice.client.joinRequests(g)).requests.map((r) => r.user_id), [d]);
  assert.deepEqual((await dave.client.myGroupApplications()).applications.map((x) => x.state), ["pending"]);
  assert.equal((await alice.client.approveJoin(g, d)).state, "approved");
  await assert.rejects(alice.client.declineJoin(g, d), (e) => e instanceof TidingsError && e.is("group_join_request_handled"));
  assert.deepEqual((await dave.client.groups()).groups.map((x) => x.group_id), [g]);
  await alice.client.sendText(`group_${g}`, "welcome");
  await until(() => dave.inbox.length === 1, 10_000, "the group message");
});

test("push: a Web Push subscription registers, lists and unregisters; a bad key is refused", async () => {
  const { createECDH } = await import("node:crypto");
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const b64 = (buf) => Buffer.from(buf).toString("base64url");
  const subscription = { endpoint: "https://push.example.org/send/abc",
                         keys: { p256dh: b64(ecdh.getPublicKey()), auth: b64(randomBytes(16)) } };
  const alice = await login(user("alice"));
  const made = await alice.client.registerPush({ channel: "webpush", subscription });
  assert.equal(made.channel, "webpush");
  assert.deepEqual((await alice.client.pushDevices()).devices.map((x) => x.device_id), [alice.client.deviceId]);
  // Refused: not uncompressed (0x02 first), and 0x04 with x and y off the curve
  // (the real point with y + 1); both keep the device's good subscription.
  const point = ecdh.getPublicKey();
  const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
  const y = (BigInt("0x" + point.subarray(33).toString("hex")) + 1n) % p;
  const offTheCurve = Buffer.concat([point.subarray(0, 33), Buffer.from(y.toString(16).padStart(64, "0"), "hex")]);
  const notUncompressed = Buffer.concat([Buffer.from([2]), point.subarray(1)]);
  for (const bad of [notUncompressed, offTheCurve]) {
    await assert.rejects(alice.client.registerPush({ channel: "webpush",
      subscription: { ...subscription, keys: { ...subscription.keys, p256dh: b64(bad) } } }),
      (e) => e instanceof TidingsError && e.is("invalid_push_token"));
  }
  assert.deepEqual((await alice.client.pushDevices()).devices.map((x) => x.device_id), [alice.client.deviceId]);
  await alice.client.unregisterPush();
  assert.deepEqual((await alice.client.pushDevices()).devices, []);
});
