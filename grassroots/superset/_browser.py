"""Headless Chromium check of the dashboards; runs INSIDE the Superset venv (it has selenium).

``python _browser.py <config.json>`` with {"url", "username", "password", "dashboards":
[{"slug", "charts"}], "screenshots": dir}.  Logs in, opens every dashboard, waits until every
chart has rendered (no spinner left, one chart holder per chart), looks for error panels and
saves ``<slug>.png``.  Prints one JSON line per dashboard prefixed with ``@@JSON``.
Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver (no driver download).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
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

JS_STATE = """
const holders = document.querySelectorAll('[data-test="dashboard-component-chart-holder"]');
const loading = document.querySelectorAll('.loading, [data-test="loading-indicator"], .ant-skeleton');
const rendered = Array.from(holders).filter(h =>
  h.querySelector('canvas, svg, table, .superset-legacy-chart-big-number, [data-test="big-number"], .big_number')
).length;
const errs = [];
for (const sel of arguments[0]) {
  document.querySelectorAll(sel).forEach(e => errs.push((e.innerText || sel).slice(0, 200)));
}
return {holders: holders.length, loading: loading.length, rendered: rendered, errors: errs,
        title: document.title, text: document.body.innerText.slice(0, 20000)};
"""


def driver(user_data: str) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}", "--lang=zh-CN",
              f"--user-data-dir={user_data}"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def main(cfg_path: str) -> None:
    cfg = json.loads(Path(cfg_path).read_text(encoding="utf-8"))
    shots = Path(cfg["screenshots"])
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as ud:
        d = driver(ud)
        try:
            d.set_page_load_timeout(90)
            d.get(cfg["url"] + "/login/")
            wait = WebDriverWait(d, 60)
            user = wait.until(EC.visibility_of_element_located(
                (By.CSS_SELECTOR, "input#username, input[name='username'], input[autocomplete='username']")))
            user.send_keys(cfg["username"])
            d.find_element(By.CSS_SELECTOR, "input#password, input[name='password'], input[type='password']") \
                .send_keys(cfg["password"] + Keys.ENTER)
            t0 = time.monotonic()
            while "/login" in d.current_url and time.monotonic() - t0 < 30:
                time.sleep(0.5)
            for dash in cfg["dashboards"]:
                start = time.monotonic()
                d.get(f"{cfg['url']}/superset/dashboard/{dash['slug']}/")
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
                png = shots / f"{dash['slug']}.png"
                d.save_screenshot(str(png))
                if extra > 0:
                    d.set_window_size(WIDTH, HEIGHT)
                text = state.pop("text", "")
                print("@@JSON " + json.dumps({
                    "slug": dash["slug"], **state, "seconds": round(time.monotonic() - start, 1),
                    "screenshot": str(png), "has_error_text": any(
                        s in text for s in ("Unexpected error", "意外错误", "Error:", "错误：", "No results",
                                            "没有结果")),
                }, ensure_ascii=False), flush=True)
        finally:
            d.quit()


if __name__ == "__main__":
    main(sys.argv[1])
