"""The demo's mailbox: an SMTP server on 127.0.0.1 that keeps every mail as a ``.eml`` file.

``python -m grassroots.superset.mailsink <folder> <port>`` (aiosmtpd). ``grassroots demo`` starts it
when no ``GRASSROOTS_SMTP_HOST`` is configured, so the scheduled reports have somewhere to go; a
configured server is used instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


class _Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook)
        self.n += 1
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.n:03d}.eml"
        (self.folder / name).write_bytes(envelope.content)
        return "250 OK"


def main(folder: str, port: str) -> None:
    from aiosmtpd.controller import Controller

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    controller = Controller(_Folder(path), hostname="127.0.0.1", port=int(port))
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main(*sys.argv[1:3])
