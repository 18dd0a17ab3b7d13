"""Headless Chromium check of the dashboards; runs INSIDE the Superset venv (it has selenium).

``python _browser.py <config.json>`` with {"url", "username", "password", "dashboards":
[{"slug", "charts", optional "query" (URL query, e.g. native filter values), "name" (of the
screenshot), "expect" (texts the page must show)}], "screenshots": dir}.  Logs in (and checks the
session holds), opens every dashboard, waits until every chart has rendered (no spinner left, one
chart holder per chart), looks for error panels and saves ``<name or slug>.png``.  Prints one JSON line per dashboard prefixed
with ``@@JSON``: what was seen, plus the page's URL, a text excerpt and the browser console's
errors, so a failure says where the browser ended up.
Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver (no driver download).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ERROR_SELECTORS = [
    ".alert-danger",
    "[data-test='error-message']",
    ".ant-alert-error",
    "[role='alert'].ant-alert-error",
    ".chart-container .error",
]

WIDTH, HEIGHT = 1600, 2600  # the window; the viewport is a little shorter
USER_FIELD = "input#username, input[name='username'], input[autocomplete='username']"
PASSWORD_FIELD = "input#password, input[name='password'], input[type='password']"
LOGIN_ATTEMPTS = 3

# the session as the server sees it: 200 when logged in
JS_ME = """
const done = arguments[arguments.length - 1];
fetch('/api/v1/me/', {credentials: 'same-origin'}).then(r => done(r.status), e => done(String(e)));
"""

JS_STATE = """
const holders = document.querySelectorAll('[data-test="dashboard-component-chart-holder"]');
const loading = document.querySelectorAll('.loading, [data-test="loading-indicator"], .ant-skeleton');
const rendered = Array.from(holders).filter(h =>
  h.querySelector('canvas, svg, table, .superset-legacy-chart-big-number, [data-test="big-number"], .big_number')
).length;
// a chart whose query returned no rows (the chart's title is the holder's first line)
const NO_DATA = ['No results were returned', '此查询没有数据返回'];
const empty = Array.from(holders).filter(h => NO_DATA.some(t => (h.innerText || '').includes(t)))
  .map(h => (h.innerText || '').split('\\n')[0].slice(0, 60));
const errs = [];
for (const sel of arguments[0]) {
  document.querySelectorAll(sel).forEach(e => errs.push((e.innerText || sel).slice(0, 200)));
}
return {holders: holders.length, loading: loading.length, rendered: rendered, empty: empty, errors: errs,
        title: document.title, url: location.href, text: document.body.innerText.slice(0, 20000)};
"""


def driver(user_data: str) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}", "--lang=zh-CN",
              f"--user-data-dir={user_data}"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})  # failed requests, JS errors
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def _excerpt(d: webdriver.Chrome) -> str:
    try:
        return " ".join(d.find_element(By.TAG_NAME, "body").text.split())[:300]
    except Exception:  # noqa: BLE001 - a diagnostic only
        return ""


def _console(d: webdriver.Chrome) -> list[str]:
    """The browser console's errors since the last call (failed API calls show up here)."""
    try:
        return [e["message"][:300] for e in d.get_log("browser")][-10:]
    except Exception:  # noqa: BLE001 - a diagnostic only
        return []


def _stale(element) -> bool:
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True


def login(d: webdriver.Chrome, url: str, username: str, password: str) -> str | None:
    """Log in through the form; None once the server sees the session, else why not.

    Retried: on a loaded machine the form can re-render while it is typed into, or the submit
    can stall; each attempt checks the typed values stuck and that /api/v1/me/ answers 200."""
    why = "no attempt"
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        try:
            d.get(url + "/login/")
            user = WebDriverWait(d, 60).until(
                EC.visibility_of_element_located((By.CSS_SELECTOR, USER_FIELD)))
            user.clear()
            user.send_keys(username)
            pw = d.find_element(By.CSS_SELECTOR, PASSWORD_FIELD)
            pw.clear()
            pw.send_keys(password)
            if user.get_attribute("value") != username or pw.get_attribute("value") != password:
                why = f"attempt {attempt}: the login form lost the typed values"
                continue
            pw.send_keys(Keys.ENTER)
            # left the login page, or got it back (the form reloaded: credentials refused)
            WebDriverWait(d, 60).until(lambda drv, form=user: "/login" not in drv.current_url or _stale(form))
            WebDriverWait(d, 60).until(
                lambda drv: drv.execute_script("return document.readyState") == "complete")
            if "/login" in d.current_url:
                why = f"attempt {attempt}: the server sent the login form back: {_excerpt(d)}"
                continue
            status = d.execute_async_script(JS_ME)
        except (TimeoutException, StaleElementReferenceException) as e:
            why = f"attempt {attempt}: {type(e).__name__} at {d.current_url}: {_excerpt(d)}"
            continue
        if status == 200:
            return None
        why = f"attempt {attempt}: /api/v1/me/ answered {status} after the login form"
    return why


def main(cfg_path: str) -> None:
    cfg = json.loads(Path(cfg_path).read_text(encoding="utf-8"))
    shots = Path(cfg["screenshots"])
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as ud:
        d = driver(ud)
        try:
            d.set_page_load_timeout(90)
            d.set_script_timeout(30)
            failed = login(d, cfg["url"], cfg["username"], cfg["password"])
            if failed:
                png = shots / "login.png"
                d.save_screenshot(str(png))
                for dash in cfg["dashboards"]:
                    print("@@JSON " + json.dumps({
                        "slug": dash["slug"], "errors": [f"login as {cfg['username']} failed: {failed}"],
                        "holders": 0, "loading": 0, "rendered": 0, "empty": [], "url": d.current_url,
                        "console": _console(d), "seconds": 0, "screenshot": str(png),
                        "has_error_text": False}, ensure_ascii=False), flush=True)
                return
            _console(d)  # drop the login page's messages
            for dash in cfg["dashboards"]:
                start = time.monotonic()
                query = f"?{dash['query']}" if dash.get("query") else ""
                d.get(f"{cfg['url']}/superset/dashboard/{dash['slug']}/{query}")
                state: dict = {}
                stable = 0
                while time.monotonic() - start < cfg.get("timeout", 90):
                    time.sleep(1)
                    state = d.execute_script(JS_STATE, ERROR_SELECTORS)
                    done = state["loading"] == 0 and state["rendered"] >= dash["charts"]
                    stable = stable + 1 if done or state["errors"] else 0
                    if stable >= 2:
                        break
                time.sleep(1.5)  # let echarts finish its animation before the screenshot
                # a dashboard longer than the viewport: grow the window (for this shot only) so the
                # screenshot shows every chart
                extra = d.execute_script(
                    "return document.documentElement.scrollHeight - window.innerHeight")
                if extra > 0:
                    d.set_window_size(WIDTH, HEIGHT + extra)
                    time.sleep(2)  # charts re-layout to the new size
                png = shots / f"{dash.get('name') or dash['slug']}.png"
                d.save_screenshot(str(png))
                if extra > 0:
                    d.set_window_size(WIDTH, HEIGHT)
                text = state.pop("text", "")
                if "/login" in state.get("url", ""):
                    state["errors"].append("sent back to the login page: the session was lost")
                print("@@JSON " + json.dumps({
                    "slug": dash["slug"], **state, "excerpt": " ".join(text.split())[:300],
                    "missing": [t for t in dash.get("expect", []) if t not in text],
                    "console": _console(d), "seconds": round(time.monotonic() - start, 1),
                    "screenshot": str(png), "has_error_text": any(
                        s in text for s in ("Unexpected error", "意外错误", "Error:", "错误：", "No results",
                                            "没有结果")),
                }, ensure_ascii=False), flush=True)
        finally:
            d.quit()


if __name__ == "__main__":
    main(sys.argv[1])
