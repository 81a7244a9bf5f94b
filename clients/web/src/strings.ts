/** Every string the messenger shows, in one table per language, so that
 * Simplified Chinese (phase 2) is one more table and a language pick. */
export const en = {
  title: "Tidings",
  identifier: "Username, e-mail or phone",
  username: "Username",
  password: "Password",
  signIn: "Sign in",
  register: "Create account",
  toRegister: "New here? Create an account",
  toSignIn: "Have an account? Sign in",
  signOut: "Sign out",
  codeLater: "Signing in with an e-mail or phone code is not in this version yet: use your username.",
  chats: "Chats",
  noChats: "No chats yet: start one with someone's username.",
  startWith: "Start a chat with (username)",
  start: "Start",
  notFound: "No one has that username.",
  message: "Message",
  send: "Send",
  back: "Back to chats",
  unread: (n: number) => `${n} unread`,
  nonText: (type: string) => `[${type}]`,
  recalled: "(recalled)",
  offline: "Connecting…",
  failed: "Something went wrong: ",
};
export type Strings = typeof en;
export const t: Strings = en;
