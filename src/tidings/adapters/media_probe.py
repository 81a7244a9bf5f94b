"""What an upload holds, measured from its bytes: an image's size and its
large and thumbnail versions (Pillow), a sound's duration (mutagen), a
video's duration and poster frame (ffprobe and ffmpeg, when installed).
Blocking functions: the media service runs them in worker threads."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from PIL import Image, ImageOps, UnidentifiedImageError

from tidings.domain.errors import ErrorCode, TidingsError

log = logging.getLogger(__name__)

# Pillow refuses images past this many pixels (decompression bombs).
Image.MAX_IMAGE_PIXELS = 50_000_000

_GPS_IFD = 0x8825
_SAVE_FORMAT = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}


@dataclass
class Variant:
    path: Path
    width: int
    height: int
    mime: str


@dataclass
class Probed:
    width: int = 0
    height: int = 0
    duration_ms: int = 0
    # The original with its location removed, when it had one to remove.
    cleaned: Path | None = None
    variants: dict[str, Variant] = field(default_factory=dict)


def _not_decodable(what: str) -> TidingsError:
    return TidingsError(ErrorCode.MEDIA_TYPE_MISMATCH, f"the file is not a readable {what}")


def _derived(img: Image.Image, box: int, out: Path) -> Variant:
    """A copy that fits in ``box`` px: JPEG, or PNG where it is transparent."""
    copy = img.copy()
    copy.thumbnail((box, box))
    if copy.mode in ("RGBA", "LA", "P") and (copy.mode != "P"
                                             or "transparency" in copy.info):
        copy = copy.convert("RGBA")
        copy.save(out, "PNG", optimize=True)
        return Variant(out, copy.width, copy.height, "image/png")
    copy.convert("RGB").save(out, "JPEG", quality=85)
    return Variant(out, copy.width, copy.height, "image/jpeg")


def probe_image(path: Path, fmt: str, *, keep_location: bool, large_px: int,
                thumb_px: int, workdir: Path) -> Probed:
    try:
        with Image.open(path) as opened:
            opened.load()
            exif = opened.getexif()
            shown = ImageOps.exif_transpose(opened)
            probed = Probed(shown.width, shown.height)
            if not keep_location and _GPS_IFD in exif:
                # The original keeps its pixels: JPEG's own tables ("keep").
                del exif[_GPS_IFD]
                cleaned = workdir / "cleaned"
                options: dict[str, object] = {"exif": exif.tobytes()}
                if fmt == "jpg":
                    options["quality"] = "keep"
                elif fmt == "webp":
                    options["lossless"] = True
                opened.save(cleaned, _SAVE_FORMAT[fmt], **options)
                probed.cleaned = cleaned
            if max(shown.size) > large_px:
                probed.variants["large"] = _derived(shown, large_px, workdir / "large")
            probed.variants["thumb"] = _derived(shown, thumb_px, workdir / "thumb")
            return probed
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:
        log.info("image refused: %s", exc)
        raise _not_decodable("image") from exc


def sound_duration_ms(path: Path) -> int:
    """The length of a sound (0 when mutagen cannot tell)."""
    try:
        found = mutagen.File(path)
    except Exception:
        return 0
    if found is None or getattr(found, "info", None) is None:
        return 0
    return round(float(found.info.length) * 1000)


def video_duration_ms(path: Path, ffprobe: str) -> int | None:
    """The length of a video by ffprobe; None when ffprobe is missing or fails."""
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json",
             str(path)], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        return round(float(json.loads(done.stdout)["format"]["duration"]) * 1000)
    except (ValueError, KeyError, TypeError):
        return None


def video_poster(path: Path, ffmpeg: str, duration_ms: int, box: int,
                 workdir: Path) -> Variant | None:
    """One frame (a second in, or the first of a shorter video) as a JPEG
    that fits in ``box`` px; None when ffmpeg is missing or fails."""
    out = workdir / "poster.jpg"
    at = "1" if duration_ms > 2000 else "0"
    try:
        done = subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-ss", at, "-i", str(path), "-frames:v", "1",
             "-vf", f"scale='min({box},iw)':-2", "-f", "image2", str(out)],
            capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        return None
    try:
        with Image.open(out) as img:
            return Variant(out, img.width, img.height, "image/jpeg")
    except (UnidentifiedImageError, OSError):
        return None
