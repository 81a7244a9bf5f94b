"""``tidings app push``: an app's push settings and credentials (docs/push.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tidings.cli_common import DataDir, fail, load, print_json, with_services

if TYPE_CHECKING:
    from tidings.cli_services import CliServices


def app_push(
    sdkappid: int,
    private_previews: Annotated[bool | None, typer.Option(
        "--private-previews/--no-private-previews",
        help="Hide the content of every notification")] = None,
    use_callback: Annotated[bool | None, typer.Option(
        "--use-callback/--no-use-callback",
        help="Receivers with no registered device go to the offline_push callback")] = None,
    vapid_subject: Annotated[str | None, typer.Option(
        help="Web Push contact: mailto: or https:")] = None,
    apns_key_file: Annotated[Path | None, typer.Option(help="The APNs .p8 key")] = None,
    apns_key_id: Annotated[str | None, typer.Option(help="The APNs key's id (10 characters)")
                           ] = None,
    apns_team_id: Annotated[str | None, typer.Option(help="The Apple developer team's id")
                            ] = None,
    apns_topic: Annotated[str | None, typer.Option(help="The iOS app's bundle id")] = None,
    fcm_credentials: Annotated[Path | None, typer.Option(
        help="The Firebase service account key file (JSON)")] = None,
    clear_apns: Annotated[bool, typer.Option(help="Remove the APNs credentials")] = False,
    clear_fcm: Annotated[bool, typer.Option(help="Remove the FCM credentials")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show or change the app's push settings (docs/push.md); the VAPID
    public key appears once a browser asked for it."""
    import orjson
    from pydantic import ValidationError

    from tidings.domain.errors import TidingsError
    from tidings.domain.push import PushAppRequest, app_changes

    body: dict[str, Any] = {k: v for k, v in (
        ("private_previews", private_previews), ("use_callback", use_callback),
        ("vapid_subject", vapid_subject)) if v is not None}
    apns = (apns_key_file, apns_key_id, apns_team_id, apns_topic)
    if any(v is not None for v in apns):
        if any(v is None for v in apns):
            fail("APNs needs --apns-key-file, --apns-key-id, --apns-team-id and --apns-topic")
        assert apns_key_file is not None
        body["apns"] = {"key": apns_key_file.read_text(), "key_id": apns_key_id,
                        "team_id": apns_team_id, "topic": apns_topic}
    elif clear_apns:
        body["apns"] = None
    if fcm_credentials is not None:
        try:
            body["fcm"] = orjson.loads(fcm_credentials.read_bytes())
        except orjson.JSONDecodeError:
            fail("--fcm-credentials: not a JSON file")
    elif clear_fcm:
        body["fcm"] = None
    loaded = load(data_dir)
    try:
        req = PushAppRequest.model_validate(body)
        values = app_changes(req, req.model_fields_set, loaded.settings.push_allow_http)
    except ValidationError as exc:
        fail(str(exc).splitlines()[0] + ": " + str(exc).splitlines()[-1].strip())
    except TidingsError as exc:
        fail(exc.message)

    async def work(services: CliServices) -> dict[str, Any] | None:
        if await services.apps.find(sdkappid) is None:
            return None
        push = services.push
        found = await (push.put_app_settings(sdkappid, values) if values
                       else push.app_settings(sdkappid))
        return {"sdkappid": sdkappid, **found}

    result = with_services(loaded, work)
    if result is None:
        fail(f"no app with sdkappid {sdkappid}", 2)
    print_json(result)
