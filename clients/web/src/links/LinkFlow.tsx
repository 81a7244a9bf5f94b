/** The link URL's flow inside the messenger (`/l/{sdkappid}?ticket=...`,
 * docs/linked-identity.md): the preview (the app's name and icon, the
 * verified card of the person's identity there, what happens next, which
 * Tidings account is signed in), one question, then the link and the
 * opened conversation. Nothing is linked before "Link" is pressed. */
import { useEffect, useState } from "preact/hooks";
import { TidingsError, type Client, type LinkPreview, type LinkTicketIn, type SignedIn } from "tidings-client";
import { AppIcon, nameOfCard, PeerCard } from "../list/Cards.js";
import { home } from "../session.js";
import { t } from "../strings.js";
import { l } from "./strings.js";
import "./links.css";

/** The link the URL carries, or null when this page is not a link URL. */
export function linkFromUrl(where: Location): LinkTicketIn | null {
  const path = /^\/l\/(\d{1,15})\/?$/.exec(where.pathname);
  if (!path) return null;
  const query = new URLSearchParams(where.search);
  const to = query.get("to");
  const action = query.get("action");
  return {
    sdkappid: Number(path[1]), ticket: query.get("ticket") ?? "",
    ...(to ? { to } : {}), ...(action === "chat" || action === "friend" ? { action } : {}),
  };
}

/** A refusal as the person can act on it, always with its stable code. */
export function refusal(error: unknown): string {
  if (!(error instanceof TidingsError)) return t.failed + String(error);
  const said: Record<number, string> = {
    96050: l.linkInvalid, 96052: l.linkInvalid, 96051: l.linkExpired,
    96053: l.linkWrongApp, 96054: l.linkUsed, 96055: l.linkElsewhere,
    96057: l.linkNoTarget, 70020: l.linkNoApp, 70051: l.linkDisabled, 70107: l.linkDisabled,
  };
  return `${said[error.code] ?? error.message} (${error.code})`;
}

type Stage = { kind: "loading" } | { kind: "ask"; preview: LinkPreview } | { kind: "busy"; preview: LinkPreview }
  | { kind: "refused"; message: string; preview?: LinkPreview };

export function LinkFlow({ client, link, me, onLinked, onCancel, onOtherAccount }: {
  client: Client; link: LinkTicketIn; me: SignedIn;
  onLinked: (conversationId: string | null, preview: LinkPreview) => void; onCancel: () => void; onOtherAccount: () => void;
}) {
  const [stage, setStage] = useState<Stage>({ kind: "loading" });
  const [account, setAccount] = useState("");

  // Which Tidings account the link goes to, as the person knows it.
  useEffect(() => {
    home.me(me).then((a) => setAccount(String(a.username || a.email || a.phone || a.user_id)), () => {});
  }, [me]);

  useEffect(() => {
    const before = document.title;
    document.title = l.linkTitle;
    return () => { document.title = before; };
  }, []);

  useEffect(() => {
    let live = true;
    client.linkPreview(link).then((preview) => live && setStage({ kind: "ask", preview }),
      (e) => live && setStage({ kind: "refused", message: refusal(e) }));
    return () => { live = false; };
  }, [client, link]);

  async function confirm(preview: LinkPreview) {
    setStage({ kind: "busy", preview });
    try {
      const made = await client.linkConfirm(link);
      onLinked(made.action?.conversation_id ?? null, preview);
    } catch (e) {
      setStage({ kind: "refused", message: refusal(e), preview });
    }
  }

  const preview = stage.kind === "loading" ? undefined : stage.preview;
  return (
    <section class="link-flow" aria-labelledby="link-question">
      <header>
        <h2 id="link-question">
          {preview ? l.linkQuestion(preview.app.name, nameOfCard(preview.user)) : l.linkTitle}
        </h2>
      </header>
      <div class="link-body">
        {stage.kind === "loading" && <p role="status">{l.linkChecking}</p>}
        {preview && (
          <div class="link-preview">
            <p class="app-head"><AppIcon app={preview.app} /><span class="app-name">{preview.app.name}</span></p>
            <PeerCard app={preview.app} card={preview.user} />
            {preview.target && (
              <p class="then">{(preview.action === "friend" ? l.linkThenFriend : l.linkThenChat)(
                nameOfCard(preview.target), preview.target.user_id)}</p>
            )}
            {preview.replaces && <p class="replaces">{l.linkReplaces(preview.app.name, preview.replaces)}</p>}
            {preview.linked && <p class="already">{l.linkAlready}</p>}
          </div>
        )}
        {stage.kind === "refused" && <p class="error" role="alert">{stage.message}</p>}
        <p class="signed-in-as">{l.linkSignedInAs} <strong class="me">{account}</strong>{" "}
          <button type="button" class="link" onClick={onOtherAccount}>{l.linkOtherAccount}</button>
        </p>
        <div class="actions">
          {(stage.kind === "ask" || stage.kind === "busy") &&
            <button type="button" disabled={stage.kind === "busy"} onClick={() => void confirm(stage.preview)}>
              {l.linkConfirm}
            </button>}
          <button type="button" class="secondary" onClick={onCancel}>
            {stage.kind === "refused" ? l.linkClose : l.linkCancel}
          </button>
        </div>
      </div>
    </section>
  );
}
