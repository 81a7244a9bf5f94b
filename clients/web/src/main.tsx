/** The web messenger's entry: restores the sign-in kept in localStorage, then
 * shows the sign-in screen or the messenger. On a link URL (`/l/{sdkappid}`)
 * the link waits through the sign-in and is then the messenger's first screen. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { SignedIn as Session } from "tidings-client";
import { linkFromUrl } from "./links/LinkFlow.js";
import { LinkSignIn } from "./links/LinkSignIn.js";
import { Messenger } from "./Messenger.js";
import { forgetPush, registerWorker } from "./push/worker.js";
import { restore, signOut, USERSIG_KEY } from "./session.js";
import { SignIn } from "./SignIn.js";
import { language } from "./strings.js";
import "./style.css";

function App() {
  const [me, setMe] = useState<Session | null | undefined>(undefined);
  const [link, setLink] = useState(() => linkFromUrl(location));
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    const held = localStorage.getItem(USERSIG_KEY) !== null;
    void restore().then((kept) => { setEnded(held && kept === null); setMe(kept); });
  }, []);
  // The ticket leaves the address bar (and the history) once used or declined.
  const linkDone = () => { setLink(null); history.replaceState(null, "", "/"); };
  if (me === undefined) return <p class="loading" role="status">…</p>;
  if (me === null) {
    const signIn = <SignIn onSignedIn={(s) => { setEnded(false); setMe(s); }} />;
    return link ? <LinkSignIn ended={ended}>{signIn}</LinkSignIn> : signIn;
  }
  return <Messenger key={me.usersig} me={me} link={link} onLinkDone={linkDone}
    onSignOut={() => { void forgetPush(); void signOut(me); setMe(null); }} />;
}

document.documentElement.lang = language;
void registerWorker();
render(<App />, document.getElementById("app")!);
