/** One's own messages on their way out, per client: each keeps its
 * `clientMsgId` from the first try, so a retry (the Retry button, or the
 * SDK's own resend after a reconnect) is the same message to the server and
 * is never stored twice. A message that failed stays here, marked, until it
 * is retried or discarded; it outlives the chat view (leaving a
 * conversation and coming back shows it again). */
import { TidingsError, type Client, type Element } from "tidings-client";
import { describe } from "../SignIn.js";

export type MediaKind = "image" | "sound" | "video" | "file";

export interface Outgoing {
  clientMsgId: string;
  conversationId: string;
  /** What is sent; for a file, filled in once it is uploaded. */
  elements: Element[];
  mentions?: string[];
  /** A file still to upload, the reply's quote to put before it, and a
   * local preview (an object URL) of an image. */
  file?: File;
  kind?: MediaKind;
  quote?: Element;
  preview?: string;
  status: "sending" | "failed";
  /** Upload progress, 0 to 1. */
  progress?: number;
  error?: string;
  time: number;
}

export function kindOf(file: File): MediaKind {
  const type = file.type.split("/")[0];
  return type === "image" ? "image" : type === "audio" ? "sound" : type === "video" ? "video" : "file";
}

export class Outbox {
  private items = new Map<string, Outgoing>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly client: Client) {}

  /** The conversation's messages going out, oldest first. */
  of(conversationId: string): Outgoing[] {
    return [...this.items.values()].filter((o) => o.conversationId === conversationId);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(conversationId: string, elements: Element[], mentions?: string[]): void {
    this.start({ clientMsgId: this.client.newClientMsgId(), conversationId, elements, status: "sending",
                 time: Date.now(), ...(mentions?.length ? { mentions } : {}) });
  }

  sendFile(conversationId: string, file: File, quote?: Element): void {
    const kind = kindOf(file);
    this.start({ clientMsgId: this.client.newClientMsgId(), conversationId, elements: [], file, kind,
                 status: "sending", time: Date.now(), progress: 0,
                 ...(quote ? { quote } : {}),
                 ...(kind === "image" ? { preview: URL.createObjectURL(file) } : {}) });
  }

  retry(clientMsgId: string): void {
    const item = this.items.get(clientMsgId);
    if (item?.status === "failed") this.start(item);
  }

  /** Gone from here: discarded, or seen stored (the ack was lost, and the
   * message came back through a resync or the history). */
  forget(clientMsgId: string): void {
    const item = this.items.get(clientMsgId);
    if (!item) return;
    if (item.preview) URL.revokeObjectURL(item.preview);
    this.items.delete(clientMsgId);
    this.publish();
  }

  private update(clientMsgId: string, change: Partial<Outgoing>): void {
    const item = this.items.get(clientMsgId);
    if (!item) return;
    this.items.set(clientMsgId, { ...item, ...change });
    this.publish();
  }

  private start(item: Outgoing): void {
    const { error: _, ...rest } = item;
    this.items.set(item.clientMsgId, { ...rest, status: "sending" });
    this.publish();
    void this.run(item.clientMsgId);
  }

  private async run(id: string): Promise<void> {
    try {
      let item = this.items.get(id)!;
      if (item.file && item.elements.length === 0) {
        const file = item.file;
        const up = (kind: MediaKind) => this.client.upload(file, {
          kind, name: file.name,
          onProgress: ({ sent, total }) => this.update(id, { progress: total ? sent / total : 1 }),
        });
        // The type the browser guessed from the name may not be what the
        // bytes are (an SVG is no image the server reads): then it goes as a file.
        const done = await up(item.kind!).catch((error: unknown) => {
          if (item.kind === "file" || !(error instanceof TidingsError) || !error.is("media_type_mismatch")) throw error;
          if (item.preview) URL.revokeObjectURL(item.preview);
          this.update(id, { kind: "file", preview: undefined });
          return up("file");
        });
        // Uploaded once: a retry sends the same element, not the bytes again.
        this.update(id, { elements: [...(item.quote ? [item.quote] : []), done.element] });
        item = this.items.get(id)!;
      }
      await this.client.send(item.conversationId, item.elements, {
        clientMsgId: id, ...(item.mentions ? { mentions: item.mentions } : {}) });
      this.forget(id); // the stored message came as the client's `sent` event
    } catch (error) {
      this.update(id, { status: "failed", error: describe(error) });
    }
  }

  private publish(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

const outboxes = new WeakMap<Client, Outbox>();

export function outboxOf(client: Client): Outbox {
  let outbox = outboxes.get(client);
  if (!outbox) outboxes.set(client, outbox = new Outbox(client));
  return outbox;
}
