/** The operator console's entry (/console, docs/console.md): the kept
 * sign-in of this tab, else the sign-in screen. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, keep, kept, session, type Credential } from "./api.js";
import { Console } from "./Console.js";
import { SignIn } from "./SignIn.js";
import { lang, t } from "./strings.js";
import "./console.css";

function Root() {
  const [credential, setCredential] = useState<Credential | null>(kept());
  useEffect(() => {
    session.ended = () => { keep(null); setCredential(null); };
  }, []);
  function signIn(made: Credential) { keep(made); setCredential(made); }
  function signOut() {
    if (credential?.kind === "operator") void call(credential, "POST", "/v1/operator/sign-out").catch(() => {});
    keep(null);
    setCredential(null);
  }
  if (!credential) return <SignIn onSignedIn={signIn} />;
  return <Console credential={credential} onSignOut={signOut} />;
}

document.documentElement.lang = lang;
document.title = t.title;
render(<Root />, document.getElementById("app")!);
