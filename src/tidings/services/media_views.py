"""What clients see of an upload: its lasting URL (carried by messages) and
its short-lived signed download URL, its view, the message element that
carries it, and how a download is served; the app's media policy as its
admin sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tidings.domain.media import MediaKind, MediaPolicy, url_signature
from tidings.store.media import MediaRow


@dataclass(frozen=True, slots=True)
class Download:
    digest: str
    size: int
    mime: str
    # "inline" for images, sounds and videos; else an attachment.
    disposition: str
    name: str
    expires: int


class MediaViews:
    """Views and URLs of uploads, for a server reached at ``public_url``."""

    def __init__(self, public_url: str, url_secret: bytes) -> None:
        self._public_url = public_url
        self._secret = url_secret

    def media_url(self, media_id: str, variant: str = "original") -> str:
        """The lasting URL a message carries; a member trades it (with their
        UserSig) for a signed download URL."""
        suffix = "" if variant == "original" else f"?variant={variant}"
        return f"{self._public_url}/v1/media/{media_id}{suffix}"

    def signed_url(self, media_id: str, variant: str, expires: int) -> str:
        sig = url_signature(self._secret, media_id, variant, expires)
        return (f"{self._public_url}/v1/media/{media_id}/content?variant={variant}"
                f"&expires={expires}&sig={sig}")

    def media_view(self, row: MediaRow) -> dict[str, Any]:
        variants = {label: {"url": self.media_url(row.id, label), "size": v["size"],
                            "width": v["width"], "height": v["height"], "mime": v["mime"]}
                    for label, v in row.variants.items()}
        return {"media_id": row.id, "kind": row.kind, "mime": row.mime, "format": row.format,
                "name": row.name, "size": row.size, "width": row.width, "height": row.height,
                "duration": row.duration_ms / 1000, "url": self.media_url(row.id),
                "variants": variants, "created_at": row.created_at,
                "element": self.element_of(row)}

    def element_of(self, row: MediaRow, element_type: str | None = None,
                   name: str = "") -> dict[str, Any]:
        """The message element that carries an upload, from what was stored."""
        kind = element_type or ("file" if row.kind == MediaKind.FILE else row.kind)
        url = self.media_url(row.id)
        if kind == "image":
            large = row.variants.get("large")
            thumb = row.variants["thumb"]
            original = {"kind": "original", "url": url, "width": row.width,
                        "height": row.height, "size": row.size}
            return {"type": "image", "media_id": row.id, "format": row.format, "variants": [
                original,
                {"kind": "large", "url": self.media_url(row.id, "large") if large else url,
                 "width": large["width"] if large else row.width,
                 "height": large["height"] if large else row.height,
                 "size": large["size"] if large else row.size},
                {"kind": "thumb", "url": self.media_url(row.id, "thumb"),
                 "width": thumb["width"], "height": thumb["height"], "size": thumb["size"]}]}
        if kind == "sound":
            return {"type": "sound", "media_id": row.id, "url": url, "size": row.size,
                    "duration": row.duration_ms / 1000}
        if kind == "video":
            element: dict[str, Any] = {
                "type": "video", "media_id": row.id, "url": url, "format": row.format,
                "size": row.size, "duration": row.duration_ms / 1000}
            poster = row.variants.get("poster")
            if poster is not None:
                element.update(poster_url=self.media_url(row.id, "poster"),
                               poster_width=poster["width"], poster_height=poster["height"],
                               poster_media_id=row.id, poster_size=poster["size"],
                               poster_format="jpg")
            return element
        return {"type": "file", "media_id": row.id, "url": url, "name": name or row.name,
                "size": row.size}


def policy_view(policy: MediaPolicy) -> dict[str, Any]:
    return {"max_bytes": policy.max_bytes,
            "kinds": sorted(k.value for k in policy.kinds),
            "keep_location": policy.keep_location}


def content_disposition(kind: str, name: str) -> str:
    return f"{kind}; filename*=UTF-8''{quote(name, safe='')}"

