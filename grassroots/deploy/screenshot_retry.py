"""A report's screenshot tried again when the browser times out, in Superset's Celery worker.

Superset takes a PDF or PNG report's screenshot once: when the dashboard's page has not drawn
within ``SCREENSHOT_LOCATE_WAIT`` (a page that hangs now and then, a busy machine) the run is an
error, its owners get an error mail and the recipients get nothing until the next schedule.
:func:`install` wraps Superset's Selenium screenshot so that a timeout or a browser error
starts a fresh browser and tries again, ``GRASSROOTS_SCREENSHOT_ATTEMPTS`` times in all
(default 2); the last attempt's error is the run's error.

Standard library only at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_ATTEMPTS = 2


def attempts(env: dict[str, str] | None = None) -> int:
    e = os.environ if env is None else env
    raw = e.get("GRASSROOTS_SCREENSHOT_ATTEMPTS") or str(DEFAULT_ATTEMPTS)
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"GRASSROOTS_SCREENSHOT_ATTEMPTS must be a whole number, not {raw!r}") from None
    if n < 1:
        raise ValueError(f"GRASSROOTS_SCREENSHOT_ATTEMPTS must be at least 1, not {n}")
    return n


def retrying(take: Callable[[], T], tries: int, retry_on: tuple[type[BaseException], ...],
             what: str = "screenshot") -> T:
    """``take()``, called again (up to ``tries`` calls) while it raises one of ``retry_on``; the
    last call's error is raised."""
    for attempt in range(1, tries):
        try:
            return take()
        except retry_on as e:
            log.warning("%s: attempt %d of %d failed (%s: %s); trying again with a new browser",
                        what, attempt, tries, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    return take()


def install() -> None:
    """Wrap Superset's Selenium screenshot (once per process)."""
    from selenium.common.exceptions import WebDriverException  # timeouts included
    from superset.utils.webdriver import WebDriverSelenium

    original = WebDriverSelenium.get_screenshot
    if getattr(original, "grassroots_retry", False):
        return
    tries = attempts()

    def get_screenshot(self, url, element_name, user):
        return retrying(lambda: original(self, url, element_name, user), tries,
                        (WebDriverException,), f"screenshot of {url}")

    get_screenshot.grassroots_retry = True  # type: ignore[attr-defined]
    WebDriverSelenium.get_screenshot = get_screenshot
    log.info("screenshots: up to %d attempts (GRASSROOTS_SCREENSHOT_ATTEMPTS)", tries)
