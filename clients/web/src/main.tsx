/** The web messenger's entry: restores the sign-in kept in localStorage, then
 * shows the sign-in screen or the messenger. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { SignedIn as Session } from "tidings-client";
import { Messenger } from "./Messenger.js";
import { forgetPush, registerWorker } from "./push/worker.js";
import { restore, signOut } from "./session.js";
import { SignIn } from "./SignIn.js";
import { language } from "./strings.js";
import "./style.css";

function App() {
  const [me, setMe] = useState<Session | null | undefined>(undefined);
  useEffect(() => { void restore().then(setMe); }, []);
  if (me === undefined) return <p class="loading" role="status">…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  return <Messenger key={me.usersig} me={me} onSignOut={() => { void forgetPush(); void signOut(me); setMe(null); }} />;
}

document.documentElement.lang = language;
void registerWorker();
render(<App />, document.getElementById("app")!);
