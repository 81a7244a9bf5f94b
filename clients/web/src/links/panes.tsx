/** What the messenger's main pane shows for the linked apps, in this order:
 * the link flow (on a link URL), "Linked apps", a linked conversation; null
 * when it is none of them (an own chat, or nothing open). Kept here so that
 * Messenger.tsx only asks. */
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Client, LinkTicketIn, SignedIn } from "tidings-client";
import { isLinked, LinkedConversations } from "../list/linked.js";
import { l } from "./strings.js";
import { LinkChat } from "./LinkChat.js";
import { LinkedApps } from "./LinkedApps.js";
import { LinkFlow } from "./LinkFlow.js";

/** The linked conversations of this client and their current snapshot. */
export function useLinked(client: Client) {
  const linked = useMemo(() => new LinkedConversations(client), [client]);
  const read = () => ({ items: linked.getSnapshot(), apps: linked.getIdentities() });
  const [now, setNow] = useState(read);
  useEffect(() => {
    const off = linked.subscribe(() => setNow(read()));
    return () => { off(); linked.dispose(); };
  }, [linked]);
  return { linked, ...now };
}

export function linkPane({ client, me, linked, link, showLinks, open, onLinkDone, onNotice, onOpen, onClose, onSignOut,
  isShown }: {
  client: Client; me: SignedIn; linked: LinkedConversations; link: LinkTicketIn | null; showLinks: boolean;
  open: string | null; onLinkDone?: () => void; onNotice: (text: string) => void;
  onOpen: (conversationId: string | null) => void; onClose: () => void; onSignOut: () => void;
  isShown: (conversationId: string) => boolean;
}) {
  if (link) {
    return <LinkFlow client={client} link={link} me={me} onOtherAccount={onSignOut}
      onLinked={(cid, preview) => {
        onLinkDone?.();
        if (cid) linked.open(cid, { app: preview.app, as: preview.user }, preview.target);
        void linked.load().catch(() => {});
        onOpen(cid);
        onNotice(l.linkDone(preview.app.name));
      }}
      onCancel={() => { onLinkDone?.(); onNotice(l.linkNothing); }} />;
  }
  if (showLinks) return <LinkedApps client={client} linked={linked} onBack={onClose} />;
  if (open && isLinked(open)) {
    return <LinkChat client={client} linked={linked} entry={linked.get(open)} conversationId={open} onBack={onClose}
      isShown={isShown} />;
  }
  return null;
}
