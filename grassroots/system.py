"""System packages the project needs beyond its Python environments, installed on demand.

Only Debian packages by name (the machine reaches Debian's registry); never a browser download.
"""

from __future__ import annotations

import os
import shutil
import subprocess

_apt_updated = False


def apt_install(*packages: str) -> None:
    """Install Debian packages (as root, else with sudo when available)."""
    global _apt_updated
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise RuntimeError(f"need root to install {', '.join(packages)} (apt-get)")
        prefix = ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
        _apt_updated = True
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    *packages], check=True, env=env)


def ensure_chromium() -> str:
    """Path of a headless-capable Chromium, installing Debian's package if missing."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        apt_install("chromium", "fonts-noto-cjk")
        path = "/usr/bin/chromium"
    return path
