"""Media over REST (docs/media.md): uploads (whole, or in parts that resume),
download URLs, the downloads themselves, and each app's limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect
from starlette.responses import RedirectResponse, Response, StreamingResponse

from tidings.api.admin import Admin
from tidings.api.auth import runtime_of
from tidings.api.models import ErrorOut
from tidings.api.responses import JSON
from tidings.api.routers import api_router
from tidings.domain.errors import ErrorCode, TidingsError
from tidings.domain.media import VARIANTS, MediaKind, parse_range
from tidings.services.media import Caller, content_disposition

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "95009 not yours to read; 95004 / 95005 URL"},
    404: {"model": ErrorOut, "description": "95003 no such upload; 95010 no such upload "
                                            "in progress"},
    409: {"model": ErrorOut, "description": "95006 wrong offset; 95008 not all bytes"},
    413: {"model": ErrorOut, "description": "95001 over the app's size limit"},
    415: {"model": ErrorOut, "description": "95000 kind not taken; 95002 the bytes are "
                                            "not what was asked"},
    429: {"model": ErrorOut, "description": "95007 too many unfinished uploads"},
}
_RAW_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}

router = api_router(prefix="/v1", tags=["media"], responses=_ERRORS)
admin_router = api_router(prefix="/v1/admin/media", tags=["admin"])


async def media_caller(request: Request) -> Caller:
    """A user (``Bearer <UserSig>``) or the app's admin (``ApiKey <key>``)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    auth = runtime_of(request).auth
    if scheme.lower() == "apikey" and token:
        admin = await auth.admin_by_api_key(token)
        return Caller(admin.sdkappid, admin.actor[:48], admin=True)
    if scheme.lower() == "bearer" and token:
        me = await auth.login(token)
        return Caller(me.sdkappid, me.user_id)
    raise TidingsError(ErrorCode.USERSIG_MISSING, "send 'Authorization: Bearer <UserSig>' "
                                                  "or 'Authorization: ApiKey <key>'")


Who = Annotated[Caller, Depends(media_caller)]
Kind = Annotated[MediaKind | None, Query(description="what the file must be (its bytes "
                                                     "decide; `file` takes anything)")]
Duration = Annotated[float, Query(ge=0, le=86400, description="seconds, for a sound or "
                                                             "video the server cannot measure")]
Name = Annotated[str, Query(max_length=200, description="the file's name, for downloads")]
Variant = Annotated[str, Query(pattern=f"^({'|'.join(VARIANTS)})$")]


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"size": 52428800, "name": "talk.mp4", "kind": "video"}]})

    size: int = Field(ge=1, description="the whole file's bytes")
    name: str = Field("", max_length=200)
    kind: MediaKind | None = None
    duration: float = Field(0, ge=0, le=86400)


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        # Nothing of this request is recorded; the client resumes from the
        # offset that GET /v1/uploads/{id} tells.
        raise TidingsError(ErrorCode.INVALID_REQUEST,
                           "the connection broke before the whole body came") from None


def _length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


@router.post("/media", openapi_extra=_RAW_BODY)
async def upload(request: Request, who: Who, name: Name = "", kind: Kind = None,
                 duration: Duration = 0) -> JSON:
    """Upload a whole file as the request body (any ``Content-Type``: the
    type comes from the bytes). Answers the stored upload with its
    ``element``, ready to send in a message. For large files use
    ``/v1/uploads``, which resumes after a broken connection."""
    return JSON(await runtime_of(request).media.upload(
        who, _body(request), _length(request), name, kind, duration))


@router.post("/uploads")
async def create_upload(request: Request, who: Who, body: UploadIn) -> JSON:
    """Start an upload in parts: then ``PUT`` the bytes from ``offset``, and
    ``POST .../complete``. At most ``TIDINGS_MEDIA_MAX_OPEN_UPLOADS``
    unfinished uploads per user (95007)."""
    return JSON(await runtime_of(request).media.create_upload(
        who, body.size, body.name, body.kind, body.duration))


@router.get("/uploads/{upload_id}")
async def upload_status(request: Request, who: Who, upload_id: str) -> JSON:
    """Where an upload stands: ``offset`` is how many bytes are safely
    stored, where the next ``PUT`` starts."""
    return JSON(await runtime_of(request).media.upload_status(who, upload_id))


@router.put("/uploads/{upload_id}", openapi_extra=_RAW_BODY)
async def put_part(request: Request, who: Who, upload_id: str,
                   offset: Annotated[int, Query(ge=0)]) -> JSON:
    """Bytes of the upload from ``offset`` (which must be where it stands:
    else 95006 with the right ``offset``). Answers the new ``offset``."""
    return JSON(await runtime_of(request).media.put_part(who, upload_id, offset,
                                                         _body(request)))


@router.post("/uploads/{upload_id}/complete")
async def complete_upload(request: Request, who: Who, upload_id: str) -> JSON:
    """Finish an upload whose bytes are all in: answers the stored upload,
    as ``POST /v1/media`` does."""
    return JSON(await runtime_of(request).media.complete(who, upload_id))


@router.delete("/uploads/{upload_id}")
async def abort_upload(request: Request, who: Who, upload_id: str) -> JSON:
    """Cancel an unfinished upload and drop its bytes."""
    await runtime_of(request).media.abort(who, upload_id)
    return JSON({})


@router.get("/media/{media_id}/info")
async def media_info(request: Request, who: Who, media_id: str) -> JSON:
    """What an upload is (kind, type, sizes, dimensions, duration, element),
    for those who may read it."""
    return JSON(await runtime_of(request).media.info(who, media_id))


@router.get("/media/{media_id}/url")
async def media_url(request: Request, who: Who, media_id: str,
                    variant: Variant = "original") -> JSON:
    """A download URL that needs no credentials and expires after
    ``TIDINGS_MEDIA_URL_TTL`` seconds: for the uploader, the members of a
    conversation that carries the upload, and the app's admins."""
    return JSON(await runtime_of(request).media.download_url(who, media_id, variant))


@router.get("/media/{media_id}", status_code=307,
            responses={307: {"description": "to the signed download URL"}})
async def media_redirect(request: Request, who: Who, media_id: str,
                         variant: Variant = "original") -> Response:
    """The URL a message carries: with the reader's credentials it redirects
    to a fresh signed download URL."""
    found = await runtime_of(request).media.download_url(who, media_id, variant)
    return RedirectResponse(found["url"], status_code=307)


@router.get("/media/{media_id}/content", responses={
    200: {"content": {"application/octet-stream": {}}},
    206: {"description": "the asked range (``Range: bytes=a-b``)"}})
async def media_content(request: Request, media_id: str, variant: Variant,
                        expires: int, sig: Annotated[str, Query(max_length=64)]) -> Response:
    """The bytes, by a signed URL (no credentials). Always with
    ``X-Content-Type-Options: nosniff``; anything but an image, a sound or a
    video is an attachment of type ``application/octet-stream``. Ranges are
    served (206), for seeking in audio and video."""
    media = runtime_of(request).media
    found = await media.open_download(media_id, variant, expires, sig)
    span = parse_range(request.headers.get("range"), found.size)
    first, last = span if span is not None else (0, found.size - 1)
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition(found.disposition, found.name),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "ETag": f'"{found.digest[:32]}"',
        "Content-Length": str(max(0, last - first + 1)),
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{found.size}"
    if found.size == 0:
        return Response(b"", media_type=found.mime, headers=headers)
    return StreamingResponse(media.blobs.read(found.digest, first, last),
                             status_code=206 if span is not None else 200,
                             media_type=found.mime, headers=headers)


class MediaSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"max_bytes": 20971520, "kinds": ["image", "sound"], "keep_location": False}]})

    max_bytes: int | None = Field(None, ge=1024, le=2**40)
    kinds: list[MediaKind] | None = Field(None, max_length=4)
    keep_location: bool | None = None


@admin_router.get("/settings")
async def get_settings(request: Request, admin: Admin) -> JSON:
    """The app's upload limits: the largest file, the kinds it takes, and
    whether images keep their EXIF location."""
    return JSON(await runtime_of(request).media.settings_of(admin.sdkappid))


@admin_router.put("/settings")
async def put_settings(request: Request, admin: Admin, body: MediaSettingsIn) -> JSON:
    """Change the app's upload limits; a field left out keeps its value."""
    kinds = None if body.kinds is None else [k.value for k in body.kinds]
    return JSON(await runtime_of(request).media.set_policy(
        admin.sdkappid, body.max_bytes, kinds, body.keep_location))
