/** The client: `Session` (the connection loop and exact resync) plus one
 * method per feature of the protocol. The methods that take an object take
 * the op's `data` as the schema declares it (the protocol's field names);
 * every op is also reachable as `client.request(op, data)`. */
import { InvalidArgumentError } from "./errors.js";
import { httpBase, httpCall } from "./http.js";
import { upload, type StoredUpload, type UploadOptions, type UploadSource } from "./media.js";
import type {
  ChangeAck, ConversationSettingsEvent, ConversationsReply, HistoryReply, MediaUrlReply, MessageAck, MessageView, Ops, QuoteElement, ReadState, SendRequest,
  TextElement,
} from "./generated/protocol.js";
import { Session } from "./session.js";

type Data<K extends keyof Ops> = Ops[K]["data"];
type Reply<K extends keyof Ops> = Promise<Ops[K]["reply"]>;
export type Element = SendRequest["elements"][number];

export interface SendOptions {
  cloudCustomData?: string;
  /** Reuse it to retry a send: the server stores it once. */
  clientMsgId?: string;
  /** User ids mentioned, or "@all" (docs/messages.md). */
  mentions?: string[];
  /** title, text, ext, disabled (docs/push.md). */
  offlinePush?: SendRequest["offline_push"];
}

function text(value: string): TextElement {
  if (typeof value !== "string") throw new InvalidArgumentError("text must be a string");
  return { type: "text", text: value };
}

function conversation(id: unknown): string {
  if (typeof id !== "string" || id === "") {
    throw new InvalidArgumentError(`conversationId must be a string such as "c2c_bob", not ${JSON.stringify(id)}`);
  }
  return id;
}

function seqOf(seq: unknown): number {
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) {
    throw new InvalidArgumentError(`seq must be a positive integer, not ${JSON.stringify(seq)}`);
  }
  return seq as number;
}

export class Client extends Session {
  // -- messages ------------------------------------------------------------------

  /** Sends a message; resolves once the server stored it (the ack). Waits
   * through a reconnection up to `sendTimeout`, resending with the same
   * `client_msg_id`, so it is never stored twice. */
  async send(conversationId: string, elements: Element[], options: SendOptions = {}): Promise<MessageAck> {
    if (!Array.isArray(elements) || elements.length === 0) {
      throw new InvalidArgumentError("elements must be a non-empty array");
    }
    const id = options.clientMsgId ?? this.newClientMsgId();
    const data: SendRequest = {
      conversation_id: conversation(conversationId), client_msg_id: id, elements,
      cloud_custom_data: options.cloudCustomData ?? "",
    };
    if (options.mentions !== undefined) data.mentions = options.mentions;
    if (options.offlinePush !== undefined) data.offline_push = options.offlinePush;
    this.outbox.add(id);
    try {
      const ack = await this.call("send", data, (reply) => {
        const ack = reply as MessageAck;
        this.owned(ack.conversation_id, ack.seq);
        return ack;
      }, this.sendTimeout);
      this.emit("sent", {
        kind: "message", conversation_id: ack.conversation_id, seq: ack.seq, msg_id: ack.msg_id,
        client_msg_id: ack.client_msg_id, time: ack.time, sender: this.userId,
        elements: elements as MessageView["elements"], cloud_custom_data: data.cloud_custom_data ?? "",
        state: "normal", edited_at: null, change_seq: 0, imported: null,
        ...(options.mentions !== undefined ? { mentions: options.mentions } : {}),
      });
      return ack;
    } finally {
      this.outbox.delete(id);
    }
  }

  async sendText(conversationId: string, value: string, options?: SendOptions): Promise<MessageAck> {
    return this.send(conversationId, [text(value)], options);
  }

  /** Replies to message `seq`, quoting it (docs/messages.md, "Replies"). */
  async reply(conversationId: string, seq: number, content: string | Element[], options?: SendOptions
  ): Promise<MessageAck> {
    const quote: QuoteElement = { type: "quote", seq: seqOf(seq) };
    return this.send(conversationId, [quote, ...(typeof content === "string" ? [text(content)] : content)],
                     options);
  }

  /** Recalls one's own message; a second recall answers the first with
   * `duplicate` set. */
  async recall(conversationId: string, seq: number): Promise<ChangeAck> {
    return this.call("recall", { conversation_id: conversation(conversationId), seq: seqOf(seq) },
                     (d) => this.ownChange(d), this.sendTimeout);
  }

  /** Replaces the elements and/or the custom data of one's own message. */
  async edit(conversationId: string, seq: number,
       change: { elements?: Element[]; cloudCustomData?: string }): Promise<ChangeAck> {
    const data: Data<"edit"> = { conversation_id: conversation(conversationId), seq: seqOf(seq) };
    if (change.elements !== undefined) data.elements = change.elements;
    if (change.cloudCustomData !== undefined) data.cloud_custom_data = change.cloudCustomData;
    return this.call("edit", data, (d) => this.ownChange(d), this.sendTimeout);
  }

  /** Messages older than `beforeSeq` (the newest page without it), oldest
   * first; or, with `aroundSeq` instead, the page around that message (a
   * search hit, a quote), whose `newer` says whether newer ones remain. */
  async history(conversationId: string, options: { beforeSeq?: number; aroundSeq?: number; limit?: number } = {}
  ): Promise<HistoryReply> {
    const data: Data<"history"> = {
      conversation_id: conversation(conversationId), before_seq: options.beforeSeq ?? null,
      limit: options.limit ?? 50,
    };
    if (options.aroundSeq !== undefined) data.around_seq = seqOf(options.aroundSeq);
    return this.request("history", data);
  }

  /** Moves the read cursor to `seq` (the newest message without it). The
   * `read` event reports the new cursor here too (the server tells the
   * user's other devices), so a store follows one event for all devices. */
  async markRead(conversationId: string, seq?: number): Promise<ReadState> {
    const state = await this.request("read", { conversation_id: conversation(conversationId), seq: seq ?? null });
    this.emit("read", state);
    return state;
  }

  async react(conversationId: string, seq: number, emoji: string): Reply<"reaction_add"> {
    return this.request("reaction_add", { conversation_id: conversation(conversationId), seq: seqOf(seq), emoji });
  }

  async unreact(conversationId: string, seq: number, emoji: string): Reply<"reaction_remove"> {
    return this.request("reaction_remove", { conversation_id: conversation(conversationId), seq: seqOf(seq), emoji });
  }

  async typing(conversationId: string, typing = true): Reply<"typing"> {
    return this.request("typing", { conversation_id: conversation(conversationId), typing });
  }

  search(query: Data<"search">): Reply<"search"> {
    return this.request("search", query);
  }

  // -- conversations -------------------------------------------------------------

  /** The user's conversations (pinned first, then the most recent; hidden
   * ones left out); with `conversationIds` (1 to 100), just those the user
   * is in, hidden ones included and `limit` not applied. */
  conversations(limit?: number, conversationIds?: readonly string[]): Promise<ConversationsReply> {
    const data: Data<"conversations"> = limit === undefined ? {} : { limit };
    if (conversationIds !== undefined) data.conversation_ids = conversationIds.map(conversation);
    return this.request("conversations", data) as Promise<ConversationsReply>;
  }

  /** Pins, mutes or keeps a draft (docs/conversations.md). Like the other
   * two settings methods, it reports the new settings as a
   * `conversation_settings` event here too (the server tells the user's
   * other devices), so a store follows one event for all devices. */
  async setConversation(conversationId: string, patch: Omit<Data<"conversation_set">, "conversation_id">
  ): Reply<"conversation_set"> {
    return this.settings(await this.request("conversation_set", { ...patch, conversation_id: conversation(conversationId) }));
  }

  async hideConversation(conversationId: string): Reply<"conversation_hide"> {
    return this.settings(await this.request("conversation_hide", { conversation_id: conversation(conversationId) }));
  }

  async deleteConversation(conversationId: string, clearHistory = false): Reply<"conversation_delete"> {
    return this.settings(await this.request("conversation_delete", {
      conversation_id: conversation(conversationId), clear_history: clearHistory }));
  }

  private settings(reply: ConversationSettingsEvent): ConversationSettingsEvent {
    this.emit("conversation_settings", reply);
    return reply;
  }

  // -- profiles, friends and blocks -----------------------------------------------

  /** Profiles of `userIds` (the caller's own without them). */
  getProfiles(userIds?: string[]): Reply<"profile_get"> {
    return this.request("profile_get", userIds === undefined ? {} : { user_ids: userIds });
  }

  setProfile(patch: Data<"profile_set">): Reply<"profile_set"> {
    return this.request("profile_set", patch);
  }

  addFriend(request: Data<"friend_add">): Reply<"friend_add"> { return this.request("friend_add", request); }
  friendRequests(): Reply<"friend_requests"> { return this.request("friend_requests", {}); }
  acceptFriend(userId: string, remark?: string): Reply<"friend_accept"> {
    return this.request("friend_accept", remark === undefined ? { user_id: userId } : { user_id: userId, remark });
  }
  declineFriend(userId: string): Reply<"friend_decline"> { return this.request("friend_decline", { user_id: userId }); }
  withdrawFriend(userId: string): Reply<"friend_withdraw"> { return this.request("friend_withdraw", { user_id: userId }); }
  friends(): Reply<"friends"> { return this.request("friends", {}); }
  setFriendRemark(userId: string, remark: string): Reply<"friend_remark"> {
    return this.request("friend_remark", { user_id: userId, remark });
  }
  deleteFriends(userIds: string[], both = true): Reply<"friend_delete"> {
    return this.request("friend_delete", { user_ids: userIds, both });
  }
  block(userIds: string[]): Reply<"block"> { return this.request("block", { user_ids: userIds }); }
  unblock(userIds: string[]): Reply<"unblock"> { return this.request("unblock", { user_ids: userIds }); }
  blocklist(): Reply<"blocklist"> { return this.request("blocklist", {}); }

  // -- groups (docs/groups.md) -----------------------------------------------------

  createGroup(group: Data<"group_create">): Reply<"group_create"> { return this.request("group_create", group); }
  joinGroup(groupId: string): Reply<"group_join"> { return this.request("group_join", { group_id: groupId }); }
  leaveGroup(groupId: string): Reply<"group_leave"> { return this.request("group_leave", { group_id: groupId }); }
  inviteToGroup(groupId: string, userIds: string[]): Reply<"group_invite"> {
    return this.request("group_invite", { group_id: groupId, user_ids: userIds });
  }
  kickFromGroup(groupId: string, userIds: string[]): Reply<"group_kick"> {
    return this.request("group_kick", { group_id: groupId, user_ids: userIds });
  }
  setGroupRole(groupId: string, userId: string, role: Data<"group_set_role">["role"]): Reply<"group_set_role"> {
    return this.request("group_set_role", { group_id: groupId, user_id: userId, role });
  }
  transferGroup(groupId: string, newOwner: string): Reply<"group_transfer"> {
    return this.request("group_transfer", { group_id: groupId, new_owner: newOwner });
  }
  /** Mutes a member for `seconds` (0 lifts it). */
  muteMember(groupId: string, userId: string, seconds: number): Reply<"group_mute"> {
    return this.request("group_mute", { group_id: groupId, user_id: userId, seconds });
  }
  muteGroup(groupId: string, muteAll: boolean): Reply<"group_mute_all"> {
    return this.request("group_mute_all", { group_id: groupId, mute_all: muteAll });
  }
  updateGroup(update: Data<"group_update">): Reply<"group_update"> { return this.request("group_update", update); }
  setNameCard(card: Data<"group_set_name_card">): Reply<"group_set_name_card"> {
    return this.request("group_set_name_card", card);
  }
  disbandGroup(groupId: string): Reply<"group_disband"> { return this.request("group_disband", { group_id: groupId }); }
  groupInfo(groupId: string): Reply<"group_info"> { return this.request("group_info", { group_id: groupId }); }
  groupMembers(query: Data<"group_members">): Reply<"group_members"> { return this.request("group_members", query); }
  groups(): Reply<"group_list"> { return this.request("group_list", {}); }
  groupReceipts(groupId: string, seqs: number[]): Reply<"group_receipts"> {
    return this.request("group_receipts", { group_id: groupId, seqs });
  }
  groupReaders(query: Data<"group_readers">): Reply<"group_readers"> { return this.request("group_readers", query); }
  applyToGroup(groupId: string, message?: string): Reply<"group_apply"> {
    return this.request("group_apply", message === undefined ? { group_id: groupId } : { group_id: groupId, message });
  }
  approveJoin(groupId: string, userId: string): Reply<"group_join_approve"> {
    return this.request("group_join_approve", { group_id: groupId, user_id: userId });
  }
  declineJoin(groupId: string, userId: string): Reply<"group_join_decline"> {
    return this.request("group_join_decline", { group_id: groupId, user_id: userId });
  }
  joinRequests(groupId?: string): Reply<"group_join_requests"> {
    return this.request("group_join_requests", groupId === undefined ? {} : { group_id: groupId });
  }
  myGroupApplications(): Reply<"group_applications"> { return this.request("group_applications", {}); }

  // -- Live groups (docs/groups.md, "Live groups"): messages not stored ------

  /** Joins a Live group on this connection, and again after every reconnect
   * until `liveLeave`; its messages come as `live_message` events. */
  async liveJoin(groupId: string): Reply<"live_join"> {
    const joined = await this.request("live_join", { group_id: groupId });
    this.liveRooms.add(groupId);
    return joined;
  }
  liveLeave(groupId: string): Reply<"live_leave"> {
    this.liveRooms.delete(groupId);
    return this.request("live_leave", { group_id: groupId });
  }
  /** Sends now (not stored, not resent); over the room's rate a Low or
   * Normal message is refused with 94060 (`live_room_busy`). */
  liveSend(groupId: string, elements: Element[],
           options: { priority?: "High" | "Normal" | "Low"; cloudCustomData?: string; clientMsgId?: string } = {}
  ): Reply<"live_send"> {
    return this.request("live_send", {
      group_id: groupId, elements, priority: options.priority ?? "Normal",
      cloud_custom_data: options.cloudCustomData ?? "", client_msg_id: options.clientMsgId ?? this.newClientMsgId() });
  }
  liveMembers(groupId: string, limit = 100): Reply<"live_members"> {
    return this.request("live_members", { group_id: groupId, limit });
  }

  // -- media, push, links --------------------------------------------------------

  /** Uploads a file (a `File`/`Blob`, or bytes): in parts past
   * `partBytes` (4 MiB), resuming after a broken connection, with
   * `onProgress` after each part. Answers the stored upload; its `element`
   * is ready to send. */
  upload(source: UploadSource, options?: UploadOptions): Promise<StoredUpload> {
    return upload(() => httpBase(this.url), () => this.freshUserSig(), source, options);
  }

  /** Uploads, then sends the upload's element (an image, a sound, a video or a file). */
  async sendMedia(conversationId: string, source: UploadSource,
                  options: UploadOptions & SendOptions & { kind: NonNullable<UploadOptions["kind"]> }
  ): Promise<MessageAck> {
    conversation(conversationId);
    const done = await this.upload(source, options);
    return this.send(conversationId, [done.element], options);
  }

  /** A signed download URL of an upload (docs/media.md): absolute, no
   * credentials needed, it expires (`expires_at`). */
  async mediaUrl(mediaId: string, variant: Data<"media_url">["variant"] = "original"
  ): Promise<MediaUrlReply> {
    const found = await this.request("media_url", { media_id: mediaId, variant });
    return { ...found, url: new URL(String(found.url), httpBase(this.url)).href };
  }

  /** The bytes of an upload, through a fresh signed URL. */
  async download(mediaId: string, variant: Data<"media_url">["variant"] = "original"): Promise<ArrayBuffer> {
    const { url } = await this.mediaUrl(mediaId, variant);
    const reply = await fetch(url);
    if (!reply.ok) throw new InvalidArgumentError(`download of ${mediaId} failed: HTTP ${reply.status}`);
    return reply.arrayBuffer();
  }
  mediaInfo(mediaId: string): Reply<"media_info"> { return this.request("media_info", { media_id: mediaId }); }

  registerPush(device: Data<"push_register">): Reply<"push_register"> { return this.request("push_register", device); }
  unregisterPush(deviceId?: string): Reply<"push_unregister"> {
    return this.request("push_unregister", deviceId === undefined ? {} : { device_id: deviceId });
  }
  pushDevices(): Reply<"push_devices"> { return this.request("push_devices", {}); }

  /** Subscribes this browser to Web Push through its service worker and
   * registers the subscription (docs/push.md). The server's VAPID key is
   * fetched (`GET /v1/push/vapid`) unless given (base64url).
   * `privatePreviews`: this device's notifications say "New message", never
   * the text. Calling it again updates the registration. */
  async subscribeWebPush(registration: ServiceWorkerRegistration, vapidPublicKey?: string,
                         options: { privatePreviews?: boolean } = {}): Reply<"push_register"> {
    const base = httpBase(this.url);
    const vapid = vapidPublicKey ?? String((await httpCall(base, "/v1/push/vapid", {
      usersig: await this.freshUserSig() })).public_key);
    const key = Uint8Array.from(atob(vapid.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const json = subscription.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
    return this.registerPush({ channel: "webpush", device_id: this.deviceId,
                               subscription: { endpoint: json.endpoint, keys: json.keys },
                               ...(options.privatePreviews === undefined ? {}
                                 : { private_previews: options.privatePreviews }) });
  }

  linkPreview(ticket: Data<"link_preview">): Reply<"link_preview"> { return this.request("link_preview", ticket); }
  linkConfirm(ticket: Data<"link_confirm">): Reply<"link_confirm"> { return this.request("link_confirm", ticket); }
  links(sdkappid?: number): Reply<"links"> { return this.request("links", sdkappid === undefined ? {} : { sdkappid }); }
  unlink(sdkappid: number): Reply<"unlink"> { return this.request("unlink", { sdkappid }); }
  linkConversations(query: Data<"link_conversations"> = {}): Reply<"link_conversations"> {
    return this.request("link_conversations", query);
  }
  async linkHistory(query: Data<"link_history">): Reply<"link_history"> { return this.request("link_history", query); }
  /** A signed download URL of an upload, asked as one's linked identity in `sdkappid`. */
  async linkMediaUrl(query: Data<"link_media_url">): Reply<"link_media_url"> { return this.request("link_media_url", query); }
  /** Sends as the linked identity in a linked conversation (`app:...`). */
  async linkSend(conversationId: string, elements: Element[], options: SendOptions = {}): Reply<"link_send"> {
    const data: SendRequest = {
      conversation_id: conversation(conversationId), elements,
      client_msg_id: options.clientMsgId ?? this.newClientMsgId(),
      cloud_custom_data: options.cloudCustomData ?? "",
    };
    return this.request("link_send", data, this.sendTimeout);
  }

  private ownChange(data: unknown): ChangeAck {
    const change = data as ChangeAck;
    if (!change.duplicate) this.owned(change.conversation_id, change.seq);
    return change;
  }
}
