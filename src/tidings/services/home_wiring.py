"""Building the home-account service from the settings: which sender per
channel, the password hasher, the shared rate counters; and what an admin's
account delete also removes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tidings.adapters.home_passwords import Passwords
from tidings.adapters.home_senders import (
    CodeSender,
    ConsoleSender,
    SmtpSender,
    SmtpSettings,
    WebhookSender,
)
from tidings.bus.local import LocalBus
from tidings.config import Settings
from tidings.domain.home_accounts import Channel
from tidings.services.accounts import AccountService
from tidings.services.apps import AppRegistry
from tidings.services.auth import Authenticator
from tidings.services.home_accounts import HomeAccountService
from tidings.services.home_recovery import HomeRecovery
from tidings.services.links import LinkService
from tidings.services.profiles import ProfileService
from tidings.store.engine import Database
from tidings.store.home_accounts import HomeAccountStore
from tidings.store.profiles import ProfileStore
from tidings.store.rate_limits import DatabaseRateCounter


def _sender(kind: str, s: Settings) -> CodeSender:
    if kind == "smtp":
        if not s.home_smtp_host or not s.home_smtp_from:
            raise ValueError("TIDINGS_HOME_EMAIL_SENDER=smtp needs TIDINGS_HOME_SMTP_HOST "
                             "and TIDINGS_HOME_SMTP_FROM")
        return SmtpSender(SmtpSettings(s.home_smtp_host, s.home_smtp_port, s.home_smtp_from,
                                       s.home_smtp_security, s.home_smtp_username,
                                       s.home_smtp_password))
    if kind == "webhook":
        if not s.home_webhook_url or not s.home_webhook_secret:
            raise ValueError("a webhook sender needs TIDINGS_HOME_WEBHOOK_URL and "
                             "TIDINGS_HOME_WEBHOOK_SECRET")
        return WebhookSender(s.home_webhook_url, s.home_webhook_secret)
    return ConsoleSender()


def home_accounts_service(db: Database, settings: Settings, home_sdkappid: int,
                                apps: AppRegistry, auth: Authenticator,
                                accounts: AccountService, bus: LocalBus) -> HomeAccountService:
    """Made at start-up; the Authenticator learns to check home sessions."""
    senders = {Channel.EMAIL: _sender(settings.home_email_sender, settings),
               Channel.PHONE: _sender(settings.home_phone_sender, settings)}
    passwords = Passwords(settings.home_argon2_time_cost, settings.home_argon2_memory_kib,
                          settings.home_argon2_parallelism)
    service = HomeAccountService(HomeAccountStore(db, home_sdkappid), DatabaseRateCounter(db),
                                 passwords, senders, apps, auth, accounts,
                                 ProfileService(ProfileStore(db), bus), bus,
                                 settings, home_sdkappid)
    auth.ticket_check = service.check_ticket
    service.start()
    return service


def account_deletion(home_sdkappid: int, recovery: HomeRecovery, links: LinkService
                     ) -> Callable[[int, list[str]], Awaitable[None]]:
    """An admin's delete: in the home app it also removes the hosted
    sign-in and the links; in an app, the deleted users' links end."""
    async def before_delete(sdkappid: int, user_ids: list[str]) -> None:
        if sdkappid == home_sdkappid:
            await recovery.admin_deleted(user_ids)
        else:
            await links.identities_deleted(sdkappid, user_ids)
    return before_delete
