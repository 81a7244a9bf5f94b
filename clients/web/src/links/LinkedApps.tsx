/** "Linked apps": the person's links (one identity per app) with their
 * verified cards, each with Unlink. After an unlink nothing of that
 * identity reaches the messenger, and its conversations leave the list. */
import { useEffect, useState } from "preact/hooks";
import type { Client, LinkView } from "tidings-client";
import { PeerCard } from "../list/Cards.js";
import type { LinkedConversations } from "../list/linked.js";
import { describe } from "../SignIn.js";
import { t } from "../strings.js";
import { l } from "./strings.js";
import "./links.css";

export function LinkedApps({ client, linked, onBack }: {
  client: Client; linked: LinkedConversations; onBack: () => void;
}) {
  const [links, setLinks] = useState<LinkView[] | null>(null);
  const [error, setError] = useState("");

  const load = () => client.links().then((reply) => setLinks(reply.links), (e) => setError(describe(e)));
  useEffect(() => {
    void load();
    const offs = [client.on("link_added", () => void load()), client.on("link_removed", () => void load())];
    return () => { for (const off of offs) off(); };
  }, [client]);

  async function unlink(link: LinkView) {
    setError("");
    try {
      await client.unlink(link.app.sdkappid);
      await Promise.all([load(), linked.load()]);
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <section class="linked-apps" aria-labelledby="linked-apps-title">
      <header>
        <button class="back" type="button" onClick={onBack} aria-label={t.back}>‹</button>
        <h2 id="linked-apps-title">{l.linkedApps}</h2>
      </header>
      <p class="empty">{l.linkedAppsAbout}</p>
      {error && <p class="error" role="alert">{error}</p>}
      {links?.length === 0 && <p class="empty">{l.noLinkedApps}</p>}
      <ul>
        {links?.map((link) => (
          <li key={link.app.sdkappid} data-app={link.app.sdkappid}>
            <PeerCard app={link.app} card={link.user} />
            <button type="button" class="secondary" onClick={() => void unlink(link)}
              aria-label={l.unlinkApp(link.app.name)}>{l.unlink}</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
