/** Every string the messenger shows, in one table per language. The zh-CN
 * table is typed against the English one, so a string added to one and not
 * the other fails `npm run typecheck` (and so the build's CI check). */
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
  language: "Language",
  notifications: "Notifications",
  notificationsBlocked: "Notifications are blocked for this site in the browser's settings.",
  notificationsFailed: "Notifications could not be turned on: ",
  newMessage: "New message",
  hideText: "Hide the text in notifications",
};
export type Strings = typeof en;

export const zhCN: Strings = {
  title: "Tidings",
  identifier: "用户名、邮箱或手机号",
  username: "用户名",
  password: "密码",
  signIn: "登录",
  register: "创建账号",
  toRegister: "第一次来？创建账号",
  toSignIn: "已有账号？登录",
  signOut: "退出登录",
  codeLater: "此版本尚不支持邮箱或手机验证码登录：请使用用户名。",
  chats: "会话",
  noChats: "还没有会话：输入对方的用户名开始聊天。",
  startWith: "与此用户开始聊天（用户名）",
  start: "开始",
  notFound: "没有这个用户名。",
  message: "消息",
  send: "发送",
  back: "返回会话列表",
  unread: (n: number) => `${n} 条未读`,
  nonText: (type: string) => `[${type}]`,
  recalled: "（已撤回）",
  offline: "连接中…",
  failed: "出错了：",
  language: "语言",
  notifications: "通知",
  notificationsBlocked: "浏览器设置中已禁止本网站的通知。",
  notificationsFailed: "无法开启通知：",
  newMessage: "新消息",
  hideText: "通知中隐藏内容",
};

export const languages = { en, "zh-CN": zhCN } as const;
export type Language = keyof typeof languages;
const KEY = "tidings.language";

/** The language kept from the person's pick, else the browser's first one we
 * have (any zh-* but zh-TW/zh-HK/zh-Hant reads Simplified Chinese), else English. */
export function pickLanguage(): Language {
  const kept = globalThis.localStorage?.getItem(KEY);
  if (kept && kept in languages) return kept as Language;
  for (const tag of globalThis.navigator?.languages ?? []) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh") && !/-(tw|hk|mo|hant)/.test(lower)) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

/** Keeps the pick and reloads: the tables are read once at start. */
export function setLanguage(language: Language): void {
  globalThis.localStorage?.setItem(KEY, language);
  globalThis.location?.reload();
}

export const language: Language = pickLanguage();
export const t: Strings = languages[language];
