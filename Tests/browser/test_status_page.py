"""The browser tier: a real Chromium (Debian's chromium + chromedriver, headless) against `answer-ninja serve`.
The dashboard issue adds its pages here; the skeleton checks the status page and the JSON endpoints."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("NINJA_TEST_BINARY", str(ROOT / ".build/debug/answer-ninja"))


@pytest.fixture(scope="module")
def serve():
    data = tempfile.mkdtemp(prefix="answer-ninja-browser-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSWER_NINJA_")}
    env.update(ANSWER_NINJA_HTTP_HOST="127.0.0.1", ANSWER_NINJA_HTTP_PORT="0", ANSWER_NINJA_DATA_DIR=data + "/data")
    log = open(Path(data) / "serve.log", "w+")
    process = subprocess.Popen([BINARY, "serve"], stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    port = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and port is None:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"^\s+http\s+http://127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
    assert port, f"serve printed no HTTP address; log in {log.name}"
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=390,844"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_status_page_lists_where_everything_listens(serve, browser):
    browser.get(serve + "/")
    assert browser.title == "Answer Ninja"
    rows = browser.find_elements(By.CSS_SELECTOR, "#listeners tbody tr")
    services = [row.find_element(By.TAG_NAME, "th").text for row in rows]
    assert "http" in services
    assert serve in browser.find_element(By.ID, "listeners").text
    assert "gateway, media, conversation, api" in browser.find_element(By.ID, "roles").text


def test_status_page_fits_a_phone_without_horizontal_scrolling(serve, browser):
    browser.get(serve + "/")
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    client_width = browser.execute_script("return document.documentElement.clientWidth")
    assert scroll_width <= client_width


def test_links_reach_health_and_readiness(serve, browser):
    browser.get(serve + "/")
    browser.find_element(By.LINK_TEXT, "health").click()
    body = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert body["status"] == "ok"
    browser.get(serve + "/ready")
    assert json.loads(browser.find_element(By.TAG_NAME, "body").text)["status"] == "ready"
