"""Superset's webhook channel speaking to WeCom (企业微信) and DingTalk (钉钉) group robots.

Superset posts its own JSON to a webhook; a group robot accepts only its message format and
answers anything else with an error code under HTTP 200. :func:`install` puts a subclass of
Superset's ``WebhookNotification`` first among its notification plugins (in the Celery worker):
for a robot's address (``qyapi.weixin.qq.com``, ``oapi.dingtalk.com``) it sends the report's
name, description and link as the robot's markdown message, signed with
``GRASSROOTS_WEBHOOK_SECRET`` for DingTalk, the same settings as the daily data-quality message
(``grassroots/alerts.py``); any other address gets Superset's own payload.

Standard library only at import time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import urllib.parse

ROBOTS = {"qyapi.weixin.qq.com": "wecom", "oapi.dingtalk.com": "dingtalk"}
LIMIT = 4000  # bytes of markdown a WeCom robot accepts (4096)


def robot_kind(url: str) -> str | None:
    return ROBOTS.get(urllib.parse.urlsplit(url).hostname or "")


def robot_request(url: str, name: str, description: str, link: str,
                  secret: str | None = None) -> tuple[str, dict]:
    """The robot's URL (signed for DingTalk when a secret is set) and JSON body."""
    kind = robot_kind(url)
    text = f"## {name}\n{description or ''}\n\n[在 Superset 中查看]({link})"
    if len(text.encode()) > LIMIT:
        text = text.encode()[:LIMIT].decode("utf-8", "ignore")
    if kind == "dingtalk":
        if secret:
            ts = str(int(time.time() * 1000))
            mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(mac).decode())
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign}"
        return url, {"msgtype": "markdown", "markdown": {"title": name[:60], "text": text}}
    return url, {"msgtype": "markdown", "markdown": {"content": text}}


def install() -> None:
    """Register the robot-aware webhook notification first (once per process)."""
    import requests
    from superset.reports.notifications.base import BaseNotification
    from superset.reports.notifications.exceptions import NotificationParamException
    from superset.reports.notifications.webhook import WebhookNotification

    if any(getattr(p, "grassroots_robot", False) for p in BaseNotification.plugins):
        return

    class RobotWebhookNotification(WebhookNotification):
        grassroots_robot = True

        def send(self) -> None:
            url = self._get_webhook_url()
            if robot_kind(url) is None:
                return super().send()
            target, body = robot_request(url, self._content.name, self._content.description or "",
                                         self._content.url or "", os.environ.get("GRASSROOTS_WEBHOOK_SECRET"))
            resp = requests.post(target, json=body, timeout=30)
            answer = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
            if resp.status_code >= 400 or answer.get("errcode") not in (None, 0):
                raise NotificationParamException(f"robot webhook answered {resp.status_code} {answer}")
            return None

    BaseNotification.plugins.remove(RobotWebhookNotification)
    BaseNotification.plugins.insert(0, RobotWebhookNotification)
