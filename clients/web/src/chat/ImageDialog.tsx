/** An image opened large, in a modal <dialog> (focus kept inside, Escape
 * closes it), through the `large` variant's signed URL. */
import { useEffect, useRef } from "preact/hooks";
import type { Client } from "tidings-client";
import { useMediaUrl } from "./media.js";
import { c } from "./strings.js";

export function ImageDialog({ client, mediaId, alt, onClose }: {
  client: Client; mediaId: string; alt: string; onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const url = useMediaUrl(client, mediaId, "large", "original");
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={dialog} class="image-dialog" aria-label={alt} onClose={onClose}
      onClick={(e) => { if (e.target === dialog.current) dialog.current?.close(); }}>
      <button type="button" class="close" onClick={() => dialog.current?.close()}>{c.closeImage}</button>
      {url && <img src={url} alt={alt} />}
    </dialog>
  );
}
