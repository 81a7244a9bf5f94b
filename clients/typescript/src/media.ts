/** Uploads (docs/media.md): small files in one request, larger ones in
 * parts that resume after a broken connection from where the server says
 * the upload stands, with progress after each part. Download URLs come over
 * the socket (`media_url`), signed, and need no credentials. */
import { InvalidArgumentError, TidingsError } from "./errors.js";
import type {
  FileElement, ImageElement, MediaInfoReply, SoundElement, VideoElement,
} from "./generated/protocol.js";
import { httpCall } from "./http.js";

/** Files up to this size go up in one request; larger ones in parts. */
export const PART_BYTES = 4 * 1024 * 1024;

export interface UploadOptions {
  name?: string;
  /** "image", "sound", "video" or "file": the server refuses bytes that are not one. */
  kind?: "image" | "sound" | "video" | "file";
  /** Seconds, for sound and video. */
  duration?: number;
  partBytes?: number;
  /** Tries per part after a network failure. */
  retries?: number;
  onProgress?: (progress: { sent: number; total: number }) => void;
  signal?: AbortSignal;
}

/** The stored upload, as `media_info` answers it: `element` is ready to
 * send (docs/media.md), and an upload's element is always a media one. */
export interface StoredUpload extends Omit<MediaInfoReply, "element"> {
  element: ImageElement | SoundElement | VideoElement | FileElement;
}

export type UploadSource = Blob | ArrayBuffer | Uint8Array;

function asBlob(source: UploadSource): Blob {
  if (source instanceof Blob) return source;
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return new Blob([source as BlobPart]);
  throw new InvalidArgumentError("upload: give a Blob (a File), an ArrayBuffer or a Uint8Array");
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `base` answers the server's `http(s)://host` at each call: a client of
 * a cluster's processes goes on through the one it is connected to now. */
export async function upload(base: () => string, usersig: () => Promise<string>, source: UploadSource,
                             options: UploadOptions = {}): Promise<StoredUpload> {
  const blob = asBlob(source);
  const name = options.name ?? ((blob as { name?: string }).name ?? "");
  const total = blob.size;
  const partBytes = options.partBytes ?? PART_BYTES;
  const progress = (sent: number) => options.onProgress?.({ sent, total });
  const meta = { name, kind: options.kind, duration: options.duration ?? 0 };
  const signal = options.signal;
  if (total <= partBytes) {
    const done = await httpCall<StoredUpload>(base(), "/v1/media", {
      method: "POST", bytes: blob, query: meta, usersig: await usersig(), ...(signal ? { signal } : {}) });
    progress(total);
    return done;
  }
  const auth = async () => ({ usersig: await usersig(), ...(signal ? { signal } : {}) });
  const created = await httpCall<{ upload_id: string; part_max_bytes: number }>(base(), "/v1/uploads", {
    json: { size: total, ...meta }, ...(await auth()) });
  const path = `/v1/uploads/${encodeURIComponent(created.upload_id)}`;
  const step = Math.min(partBytes, created.part_max_bytes);
  let offset = 0;
  let failures = 0;
  progress(0);
  while (offset < total) {
    try {
      const reply = await httpCall<{ offset: number }>(base(), path, {
        method: "PUT", bytes: blob.slice(offset, offset + step), query: { offset }, ...(await auth()) });
      offset = reply.offset;
      failures = 0;
    } catch (error) {
      if (error instanceof TidingsError && !error.is("upload_offset_mismatch")) throw error;
      if (!(error instanceof TidingsError)) { // the network: wait, then ask where it stands
        if (signal?.aborted || ++failures > (options.retries ?? 5)) throw error;
        await pause(Math.min(5000, 200 * 2 ** failures));
      }
      offset = (await httpCall<{ offset: number }>(base(), path, await auth())).offset;
    }
    progress(offset);
  }
  return httpCall<StoredUpload>(base(), `${path}/complete`, { method: "POST", ...(await auth()) });
}
