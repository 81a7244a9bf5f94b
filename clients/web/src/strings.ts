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
  // The conversation list's apps and the link flow (list/, links/).
  filterByApp: "Show chats of",
  all: "All",
  personal: "Personal",
  noAppChats: "No chats in this app yet.",
  verifiedBy: (app: string) => `verified by ${app}`,
  youAre: (name: string, app: string) => `you are ${name} in ${app}`,
  messageAs: (name: string, app: string) => `Message as ${name} in ${app}`,
  pinned: "Pinned",
  muted: "Muted",
  earlier: "Show earlier messages",
  linkTitle: "Link an account - Tidings",
  linkChecking: "Checking the link…",
  linkQuestion: (app: string, name: string) => `Link your ${app} account '${name}' to this account?`,
  linkThenChat: (name: string, id: string) => `Then open the chat with ${name} (${id}).`,
  linkThenFriend: (name: string, id: string) => `Then send a friend request to ${name} (${id}).`,
  linkReplaces: (app: string, id: string) => `This replaces your linked ${app} account ${id}.`,
  linkAlready: "This account is linked already.",
  linkSignedInAs: "Signed in to Tidings as",
  linkOtherAccount: "Use another account",
  linkConfirm: "Link",
  linkCancel: "Cancel",
  linkClose: "Close",
  linkSignIn: "Sign in to Tidings (or create an account) to link your account in another app.",
  linkSessionEnded: "Your Tidings session has ended. Sign in again.",
  linkNothing: "Nothing was linked.",
  linkDone: (app: string) => `Linked: your ${app} chats are here now.`,
  linkInvalid: "This link is not valid. Ask the app for a new one.",
  linkExpired: "This link has expired. Ask the app for a new one.",
  linkWrongApp: "This link belongs to another app.",
  linkUsed: "This link was used already. Ask the app for a new one.",
  linkElsewhere: "This account of the app is linked to another Tidings account.",
  linkNoTarget: "The person this link names is not in that app.",
  linkNoApp: "There is no such app here.",
  linkDisabled: "The app has disabled this account.",
  linkedApps: "Linked apps",
  linkedAppsAbout: "Messages of your accounts in these apps reach you here, and you answer as that account.",
  noLinkedApps: "No linked apps. An app you use can offer to link its account to Tidings.",
  unlink: "Unlink",
  unlinkApp: (app: string) => `Unlink ${app}`,
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
  filterByApp: "显示以下会话",
  all: "全部",
  personal: "个人",
  noAppChats: "该应用中还没有会话。",
  verifiedBy: (app: string) => `由 ${app} 认证`,
  youAre: (name: string, app: string) => `你在 ${app} 中是 ${name}`,
  messageAs: (name: string, app: string) => `以 ${app} 的 ${name} 身份发送消息`,
  pinned: "已置顶",
  muted: "免打扰",
  earlier: "显示更早的消息",
  linkTitle: "关联账号 - Tidings",
  linkChecking: "正在检查链接…",
  linkQuestion: (app: string, name: string) => `将你的 ${app} 账号“${name}”关联到此账号？`,
  linkThenChat: (name: string, id: string) => `然后打开与 ${name}（${id}）的会话。`,
  linkThenFriend: (name: string, id: string) => `然后向 ${name}（${id}）发送好友申请。`,
  linkReplaces: (app: string, id: string) => `这将替换你已关联的 ${app} 账号 ${id}。`,
  linkAlready: "此账号已经关联。",
  linkSignedInAs: "当前登录的 Tidings 账号：",
  linkOtherAccount: "使用其他账号",
  linkConfirm: "关联",
  linkCancel: "取消",
  linkClose: "关闭",
  linkSignIn: "请先登录 Tidings（或创建账号），再关联你在其他应用中的账号。",
  linkSessionEnded: "你的 Tidings 登录已失效，请重新登录。",
  linkNothing: "未关联任何账号。",
  linkDone: (app: string) => `已关联：你在 ${app} 的会话现在会显示在这里。`,
  linkInvalid: "此链接无效，请向应用重新获取。",
  linkExpired: "此链接已过期，请向应用重新获取。",
  linkWrongApp: "此链接属于另一个应用。",
  linkUsed: "此链接已被使用，请向应用重新获取。",
  linkElsewhere: "该应用的这个账号已关联到另一个 Tidings 账号。",
  linkNoTarget: "链接中指定的用户不在该应用中。",
  linkNoApp: "此处没有这个应用。",
  linkDisabled: "该应用已停用此账号。",
  linkedApps: "已关联的应用",
  linkedAppsAbout: "你在这些应用中的账号收到的消息会显示在这里，你也以该账号的身份回复。",
  noLinkedApps: "还没有关联的应用。你使用的应用可以邀请你将其账号关联到 Tidings。",
  unlink: "取消关联",
  unlinkApp: (app: string) => `取消关联 ${app}`,
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
