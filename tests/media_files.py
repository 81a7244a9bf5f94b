"""Real media files made by the tests: a JPEG (with an EXIF location), a WAV,
an MP4 (by ffmpeg, when installed), and a script that pretends to be a JPEG."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

from PIL import Image

GPS_IFD = 0x8825


def jpeg(width: int = 1600, height: int = 1200, *, gps: bool = True) -> bytes:
    img = Image.new("RGB", (width, height))
    for x in range(0, width, 40):  # some detail, so the encoder has work
        img.paste((x % 256, (x * 3) % 256, 90), (x, 0, x + 20, height))
    exif = Image.Exif()
    exif[0x010F] = "TidingsCam"  # Make
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 30, 128)).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(i / 8)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return out.getvalue()


def has_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def mp4(tmp: Path, seconds: int = 2) -> bytes:
    out = tmp / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size=320x240:rate=10", "-pix_fmt", "yuv420p",
                    str(out)], check=True, timeout=120)
    return out.read_bytes()


SCRIPT = b"<html><script>alert(document.cookie)</script></html>\n" * 4
