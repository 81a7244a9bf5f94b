"""Error codes that clients and app servers may rely on.

Codes are stable: once published in docs/protocol.md a number never changes
meaning. Where Tencent Cloud IM has a number for the same condition we use it,
so an app moving from Tencent keeps its error handling.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    # Login tickets (Tencent's numbers).
    USERSIG_EXPIRED = 70001
    USERSIG_MISSING = 70002
    USERSIG_INVALID = 70003
    USERSIG_BAD_SIGNATURE = 70009
    USERSIG_USER_MISMATCH = 70013
    USERSIG_APP_MISMATCH = 70014
    APP_NOT_FOUND = 70020
    # Accounts and admin credentials (Tencent's numbers where it has them).
    USERSIG_REVOKED = 70052
    ACCOUNT_DISABLED = 70051
    ACCOUNT_DELETED = 70107
    API_KEY_INVALID = 70030
    NOT_ADMIN = 90009
    # Profiles.
    PROFILE_FIELD_READ_ONLY = 40008

    # Requests and frames.
    MALFORMED_JSON = 90001
    INVALID_MESSAGE_BODY = 90002
    INVALID_REQUEST = 10002
    UNKNOWN_OP = 10001
    NOT_LOGGED_IN = 10003
    ALREADY_LOGGED_IN = 10004
    RATE_LIMITED = 10005
    INVALID_USER_ID = 10008
    INVALID_CONVERSATION_ID = 10009
    NOT_FOUND = 10010
    NOT_A_MEMBER = 10011
    MESSAGE_TOO_LONG = 80002
    CLIENT_MSG_ID_REUSED = 10012
    NOT_MESSAGE_SENDER = 10013
    # Ours: a REST request body over its route's limit (TIDINGS_MAX_BODY_BYTES,
    # TIDINGS_MAX_ADMIN_BODY_BYTES), refused before or while it is read.
    REQUEST_TOO_LARGE = 10070
    # Recall and edit (Tencent's numbers).
    MESSAGE_NOT_FOUND = 20022
    MESSAGE_RECALLED = 20023
    CHANGE_TOO_LATE = 20016
    INVALID_MSG_ID = 90054
    SERVICE_UNAVAILABLE = 50003
    INTERNAL = 50000

    # Callbacks: the app's before-send callback refused the message (Tencent's
    # number; the app's own code and text ride along), or it failed and the
    # app's policy is to block.
    CALLBACK_REJECTED = 20006
    CALLBACK_FAILED = 50004

    # Groups (Tencent's group numbers; 10010 not found and 10011 not a member
    # above serve groups too).
    GROUP_NO_PERMISSION = 10007
    GROUP_FULL = 10014
    INVALID_GROUP_ID = 10015
    GROUP_MUTED = 10017
    GROUP_ID_TAKEN = 10021
    # Ours (Tencent's 10009 is our INVALID_CONVERSATION_ID): the owner must
    # transfer the group or disband it.
    GROUP_OWNER_CANNOT_LEAVE = 10060
    # Ours (Tencent's 10013 is our NOT_MESSAGE_SENDER).
    ALREADY_GROUP_MEMBER = 10061
    # Friends and blocks (Tencent's numbers: 2xxxx for sending, 3xxxx for
    # the relationship chain).
    BLOCKED_BY_PEER = 20007
    # The sender's account is muted for one-to-one sends (Tencent's global mute).
    ACCOUNT_MUTED = 20012
    NOT_FRIENDS = 20009
    FRIEND_ACCOUNT_NOT_FOUND = 30003
    PEER_BLOCKED_BY_YOU = 30515
    FRIEND_REQUESTS_DENIED = 30516
    FRIEND_REQUEST_NOT_FOUND = 30614
    NOT_A_FRIEND = 31704
    # Join applications (ours: Tencent has no numbers for these).
    GROUP_JOIN_REQUEST_PENDING = 94050
    GROUP_JOIN_REQUEST_NOT_FOUND = 94051
    GROUP_JOIN_REQUEST_HANDLED = 94052
    # A Live group over its message rate shed this (Low or Normal) message.
    LIVE_ROOM_BUSY = 94060
    # Group read receipts (ours): the group is over the app's size limit for
    # them, or the app turned them off.
    GROUP_RECEIPTS_OFF = 94100
    # Push (ours: Tencent has no numbers for these): the app has no
    # credentials for the channel a device registers with; a token or
    # subscription that cannot be one.
    PUSH_CHANNEL_NOT_CONFIGURED = 95100
    INVALID_PUSH_TOKEN = 95101
    # Media (ours: Tencent has no numbers for these; docs/media.md).
    MEDIA_KIND_NOT_ALLOWED = 95000
    MEDIA_TOO_LARGE = 95001
    MEDIA_TYPE_MISMATCH = 95002
    MEDIA_NOT_FOUND = 95003
    MEDIA_URL_EXPIRED = 95004
    MEDIA_URL_INVALID = 95005
    UPLOAD_OFFSET_MISMATCH = 95006
    TOO_MANY_UPLOADS = 95007
    UPLOAD_INCOMPLETE = 95008
    MEDIA_FORBIDDEN = 95009
    UPLOAD_NOT_FOUND = 95010
    RANGE_NOT_SATISFIABLE = 95011
    # Home accounts (issue 5; ours, Tencent has no hosted accounts). An
    # unknown username and a wrong password are the same 96000 on purpose.
    HOME_BAD_CREDENTIALS = 96000
    HOME_LOCKED_OUT = 96001
    HOME_CODE_INVALID = 96002
    HOME_USERNAME_TAKEN = 96003
    HOME_WEAK_PASSWORD = 96004
    HOME_INVALID_ADDRESS = 96005
    HOME_INVALID_USERNAME = 96006
    HOME_SEND_FAILED = 96007
    HOME_NOT_A_SESSION = 96008
    # Addresses and recovery of home accounts (ours, 96010-96029).
    HOME_ADDRESS_TAKEN = 96010
    HOME_LAST_SIGN_IN_METHOD = 96011
    # Links between home accounts and app identities (ours, 96050-96099).
    LINK_TICKET_INVALID = 96050
    LINK_TICKET_EXPIRED = 96051
    LINK_TICKET_BAD_SIGNATURE = 96052
    LINK_TICKET_APP_MISMATCH = 96053
    LINK_TICKET_USED = 96054
    IDENTITY_LINKED_ELSEWHERE = 96055
    NOT_LINKED = 96056
    LINK_TARGET_NOT_FOUND = 96057
    NOT_HOME_ACCOUNT = 96058
    # The operator console (issue 14): operators and their sessions.
    OPERATOR_BAD_CREDENTIALS = 96100
    OPERATOR_LOCKED_OUT = 96101
    OPERATOR_SESSION_INVALID = 96102
    APP_SCOPE_MISMATCH = 96103


# The HTTP status each code is answered with on REST.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.USERSIG_EXPIRED: 401,
    ErrorCode.USERSIG_MISSING: 401,
    ErrorCode.USERSIG_INVALID: 401,
    ErrorCode.USERSIG_BAD_SIGNATURE: 401,
    ErrorCode.USERSIG_USER_MISMATCH: 401,
    ErrorCode.USERSIG_APP_MISMATCH: 401,
    ErrorCode.APP_NOT_FOUND: 401,
    ErrorCode.USERSIG_REVOKED: 401,
    ErrorCode.ACCOUNT_DISABLED: 403,
    ErrorCode.ACCOUNT_DELETED: 403,
    ErrorCode.API_KEY_INVALID: 401,
    ErrorCode.NOT_ADMIN: 403,
    ErrorCode.PROFILE_FIELD_READ_ONLY: 403,
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.INVALID_MESSAGE_BODY: 400,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNKNOWN_OP: 400,
    ErrorCode.NOT_LOGGED_IN: 401,
    ErrorCode.ALREADY_LOGGED_IN: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INVALID_USER_ID: 400,
    ErrorCode.INVALID_CONVERSATION_ID: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_A_MEMBER: 403,
    ErrorCode.MESSAGE_TOO_LONG: 413,
    ErrorCode.CLIENT_MSG_ID_REUSED: 409,
    ErrorCode.REQUEST_TOO_LARGE: 413,
    ErrorCode.NOT_MESSAGE_SENDER: 403,
    ErrorCode.MESSAGE_NOT_FOUND: 404,
    ErrorCode.MESSAGE_RECALLED: 409,
    ErrorCode.CHANGE_TOO_LATE: 403,
    ErrorCode.INVALID_MSG_ID: 400,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
    ErrorCode.CALLBACK_REJECTED: 403,
    ErrorCode.CALLBACK_FAILED: 503,
    ErrorCode.GROUP_NO_PERMISSION: 403,
    ErrorCode.ALREADY_GROUP_MEMBER: 409,
    ErrorCode.GROUP_FULL: 409,
    ErrorCode.INVALID_GROUP_ID: 400,
    ErrorCode.GROUP_MUTED: 403,
    ErrorCode.GROUP_ID_TAKEN: 409,
    ErrorCode.GROUP_OWNER_CANNOT_LEAVE: 409,
    ErrorCode.BLOCKED_BY_PEER: 403,
    ErrorCode.ACCOUNT_MUTED: 403,
    ErrorCode.NOT_FRIENDS: 403,
    ErrorCode.FRIEND_ACCOUNT_NOT_FOUND: 404,
    ErrorCode.PEER_BLOCKED_BY_YOU: 409,
    ErrorCode.FRIEND_REQUESTS_DENIED: 403,
    ErrorCode.FRIEND_REQUEST_NOT_FOUND: 404,
    ErrorCode.NOT_A_FRIEND: 404,
    ErrorCode.GROUP_JOIN_REQUEST_PENDING: 409,
    ErrorCode.GROUP_JOIN_REQUEST_NOT_FOUND: 404,
    ErrorCode.GROUP_JOIN_REQUEST_HANDLED: 409,
    ErrorCode.LIVE_ROOM_BUSY: 429,
    ErrorCode.GROUP_RECEIPTS_OFF: 409,
    ErrorCode.PUSH_CHANNEL_NOT_CONFIGURED: 409,
    ErrorCode.INVALID_PUSH_TOKEN: 400,
    ErrorCode.MEDIA_KIND_NOT_ALLOWED: 415,
    ErrorCode.MEDIA_TOO_LARGE: 413,
    ErrorCode.MEDIA_TYPE_MISMATCH: 415,
    ErrorCode.MEDIA_NOT_FOUND: 404,
    ErrorCode.MEDIA_URL_EXPIRED: 403,
    ErrorCode.MEDIA_URL_INVALID: 403,
    ErrorCode.UPLOAD_OFFSET_MISMATCH: 409,
    ErrorCode.TOO_MANY_UPLOADS: 429,
    ErrorCode.UPLOAD_INCOMPLETE: 409,
    ErrorCode.MEDIA_FORBIDDEN: 403,
    ErrorCode.UPLOAD_NOT_FOUND: 404,
    ErrorCode.RANGE_NOT_SATISFIABLE: 416,
    ErrorCode.HOME_BAD_CREDENTIALS: 401,
    ErrorCode.HOME_LOCKED_OUT: 429,
    ErrorCode.HOME_CODE_INVALID: 401,
    ErrorCode.HOME_USERNAME_TAKEN: 409,
    ErrorCode.HOME_WEAK_PASSWORD: 400,
    ErrorCode.HOME_INVALID_ADDRESS: 400,
    ErrorCode.HOME_INVALID_USERNAME: 400,
    ErrorCode.HOME_SEND_FAILED: 503,
    ErrorCode.HOME_NOT_A_SESSION: 403,
    ErrorCode.HOME_ADDRESS_TAKEN: 409,
    ErrorCode.HOME_LAST_SIGN_IN_METHOD: 409,
    ErrorCode.LINK_TICKET_INVALID: 400,
    ErrorCode.LINK_TICKET_EXPIRED: 410,
    ErrorCode.LINK_TICKET_BAD_SIGNATURE: 403,
    ErrorCode.LINK_TICKET_APP_MISMATCH: 400,
    ErrorCode.LINK_TICKET_USED: 409,
    ErrorCode.IDENTITY_LINKED_ELSEWHERE: 409,
    ErrorCode.NOT_LINKED: 404,
    ErrorCode.LINK_TARGET_NOT_FOUND: 404,
    ErrorCode.NOT_HOME_ACCOUNT: 403,
    ErrorCode.OPERATOR_BAD_CREDENTIALS: 401,
    ErrorCode.OPERATOR_LOCKED_OUT: 429,
    ErrorCode.OPERATOR_SESSION_INVALID: 401,
    ErrorCode.APP_SCOPE_MISMATCH: 403,
}


class TidingsError(Exception):
    """A refusal with a stable code; edges render it, services raise it."""

    def __init__(self, code: ErrorCode, message: str,
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # More fields for the error object (e.g. the app's own code and text).
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {"code": int(self.code), "name": self.code.name.lower(),
                                  "message": self.message}
        if self.details:
            doc.update(self.details)
        return doc
