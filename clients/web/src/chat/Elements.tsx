/** A message's content, element by element: text (always as text, never
 * HTML), images as thumbnails that open large, files to download with their
 * name and size, voice and video players, a location as a map link. Every
 * media URL is a signed one from `mediaUrl` (media.ts). */
import type { Client, MessageView } from "tidings-client";
import { sizeOf } from "./time.js";
import { c } from "./strings.js";
import { useMediaUrl } from "./media.js";

type El = MessageView["elements"][number];
type Of<T extends El["type"]> = Extract<El, { type: T }>;

export function Elements({ client, elements, onOpenImage }: {
  client: Client; elements: readonly El[]; onOpenImage: (mediaId: string, alt: string) => void;
}) {
  return <>{elements.map((e, i) => <One key={i} client={client} e={e} onOpenImage={onOpenImage} />)}</>;
}

function One({ client, e, onOpenImage }: {
  client: Client; e: El; onOpenImage: (mediaId: string, alt: string) => void;
}) {
  switch (e.type) {
    case "text": return <span class="text">{e.text}</span>;
    case "image": return <Image client={client} e={e} onOpen={onOpenImage} />;
    case "file": return <File client={client} e={e} />;
    case "sound": return <Sound client={client} e={e} />;
    case "video": return <Video client={client} e={e} />;
    case "location": return <Location e={e} />;
    case "face": return <span class="text face">{c.face(e.index)}</span>;
    case "quote": return null; // shown above the message (Message.tsx)
    default: return <span class="text custom">{c.custom}</span>;
  }
}

function Image({ client, e, onOpen }: { client: Client; e: Of<"image">; onOpen: (id: string, alt: string) => void }) {
  const thumb = e.variants.find((v) => v.kind === "thumb") ?? e.variants[0];
  const url = useMediaUrl(client, e.media_id, "thumb", "original");
  if (!e.media_id) return <span class="text">[{c.image}]</span>;
  const mediaId = e.media_id;
  return (
    <button type="button" class="image" aria-label={c.openImage} onClick={() => onOpen(mediaId, c.image)}>
      {url ? <img src={url} alt={c.image} width={thumb?.width} height={thumb?.height} />
        : <span class="placeholder" aria-hidden="true" />}
    </button>
  );
}

function File({ client, e }: { client: Client; e: Of<"file"> }) {
  const url = useMediaUrl(client, e.media_id);
  const name = e.name || c.file;
  const size = sizeOf(e.size ?? 0);
  return (
    <a class="file" href={url || undefined} download={name}>
      <span class="file-icon" aria-hidden="true">📄</span>
      <span class="file-name"><span class="visually-hidden">{c.download} </span>{name}</span>
      <span class="file-size"> {size}</span>
    </a>
  );
}

function Sound({ client, e }: { client: Client; e: Of<"sound"> }) {
  const url = useMediaUrl(client, e.media_id);
  return <audio class="sound" controls preload="none" src={url || undefined} />;
}

function Video({ client, e }: { client: Client; e: Of<"video"> }) {
  const url = useMediaUrl(client, e.media_id);
  const poster = useMediaUrl(client, e.poster_url || e.poster_media_id ? e.media_id : undefined, "poster");
  return <video class="video" controls preload="metadata" playsInline src={url || undefined} poster={poster || undefined} />;
}

function Location({ e }: { e: Of<"location"> }) {
  const [lat, lon] = [Number(e.latitude), Number(e.longitude)]; // numbers, whatever a peer sent
  const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
  return (
    <a class="location" href={href} target="_blank" rel="noopener noreferrer">
      <span aria-hidden="true">📍 </span>{e.desc || `${c.location} ${lat.toFixed(5)}, ${lon.toFixed(5)}`}
    </a>
  );
}
