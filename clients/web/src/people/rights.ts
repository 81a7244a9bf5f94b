/** What the person's role lets them do in a group, so the details screen
 * offers only those actions: the client's copy of docs/groups.md "Roles
 * and rights" (src/tidings/domain/group_rights.py decides; a refusal still
 * shows its error). */
import type { GroupInfo, GroupMember } from "tidings-client";

type Role = GroupMember["role"];
const RANK: Record<Role, number> = { Member: 0, Admin: 1, Owner: 2 };
const anyMember = (type: GroupInfo["type"]) => type === "Work" || type === "Community";

export function rights(type: GroupInfo["type"], mine: Role | undefined) {
  const staff = mine === "Admin" || mine === "Owner";
  const member = mine !== undefined;
  return {
    invite: member && (staff || anyMember(type)),
    update: member && (staff || type === "Work"),
    answerJoins: staff,
    /** Mute the whole group (only the owner and admins speak then). */
    muteAll: staff,
    /** Owners cannot leave (transfer first); the others may. */
    leave: member && mine !== "Owner",
    /** Hand the group over (then the former owner may leave). */
    transfer: mine === "Owner",
    /** A Work group is disbanded only by the app's admin. */
    disband: mine === "Owner" && type !== "Work",
    /** Mute one member: like a kick, on those below. */
    mute: (target: Role) => staff && RANK[mine!] > RANK[target],
    kick: (target: Role) => staff && RANK[mine!] > RANK[target],
    setRole: (target: Role) => mine === "Owner" && target !== "Owner",
  };
}
