"""Media figures by hand: image uploads (typing, versions, EXIF, hashing,
storing), a large upload in parts, and a large download, through a real
``tidings serve`` on loopback (SQLite, local disk).

    python bench/media_upload.py [--images 20] [--mb 64]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image
from TLSSigAPIv2 import TLSSigAPIv2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jpeg() -> bytes:
    img = Image.effect_noise((1600, 1200), 60).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="tidings-media-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(TIDINGS_DATA_DIR=str(data_dir), TIDINGS_PORT=str(port),
               TIDINGS_LOG_LEVEL="warning", TIDINGS_MEDIA_MAX_BYTES=str(1 << 31))
    made = subprocess.run([sys.executable, "-m", "tidings", "app", "create", "--name", "B"],
                          env=env, capture_output=True, text=True, check=True)
    app = json.loads(made.stdout)
    server = subprocess.Popen([sys.executable, "-m", "tidings", "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        sig = TLSSigAPIv2(app["sdkappid"], app["secret_key"]).gen_sig("bench")
        http = httpx.Client(base_url=base, timeout=300,
                            headers={"Authorization": f"Bearer {sig}"})
        image = jpeg()
        started = time.perf_counter()
        for _ in range(args.images):
            assert http.post("/v1/media", content=image).status_code == 200
        per_image = (time.perf_counter() - started) / args.images
        big = os.urandom(args.mb << 20)
        started = time.perf_counter()
        upload = http.post("/v1/uploads", json={"size": len(big)}).json()
        part = upload["part_max_bytes"]
        for offset in range(0, len(big), part):
            http.put(f"/v1/uploads/{upload['upload_id']}", params={"offset": offset},
                     content=big[offset:offset + part]).raise_for_status()
        done = http.post(f"/v1/uploads/{upload['upload_id']}/complete").json()
        up_s = time.perf_counter() - started
        url = http.get(f"/v1/media/{done['media_id']}/url").json()["url"]
        started = time.perf_counter()
        got = httpx.get(base + url, timeout=300)
        down_s = time.perf_counter() - started
        assert got.content == big
        print(json.dumps({
            "image_bytes": len(image), "image_upload_ms": round(per_image * 1000, 1),
            "parts_upload_mb_s": round(args.mb / up_s, 1),
            "download_mb_s": round(args.mb / down_s, 1)}))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)


if __name__ == "__main__":
    main()
