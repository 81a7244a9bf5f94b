"""What one log line costs: ``ws_login`` as gateway/session.py writes it,
through logs.configure's handler (to /dev/null), at a level that writes it
(``info``) and at one that drops it (``warning``, as the benches run the
server). CPU per line, in microseconds, best of ``--repeat``.

Old and new side by side (the machine is shared: alternate them):

    git -C /work/main archive f8c6444 src | tar -x -C /tmp/polish-old
    for i in 1 2 3; do
      PYTHONPATH=/tmp/polish-old/src python bench/log_line.py --tag old
      PYTHONPATH=src python bench/log_line.py --tag new
    done

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from tidings import logs


def per_line(level: str, lines: int, repeat: int) -> float:
    logs.configure(level, stream=open("/dev/null", "w"))  # noqa: SIM115 - the process's handler
    log = logs.get_logger("tidings.gateway.session")
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for n in range(lines):
            log.info("ws_login", session=n, app=1400000001, user="alice", platform="web",
                     device="tab-1", client="127.0.0.1")
        best = min(best, time.process_time() - start)
    return round(best / lines * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps({"tag": args.tag,
                      "info_us": per_line("info", args.lines, args.repeat),
                      "warning_us": per_line("warning", args.lines, args.repeat)}))


if __name__ == "__main__":
    main()
