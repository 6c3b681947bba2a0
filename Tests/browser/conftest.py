"""The browser tier: a real Chromium (Debian's chromium + chromedriver, headless, explicit waits only) against one
`answer-ninja serve` on loopback ports, with its SIP port and data directory for tests that place calls and read the
database. Screenshots go to .build/test-artifacts/browser/."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("NINJA_TEST_BINARY", str(ROOT / ".build/debug/answer-ninja"))
ARTIFACTS = ROOT / ".build" / "test-artifacts" / "browser"


DEVICE_PASSWORD = "alice-device-pw-7391"


@dataclass
class Serve:
    url: str
    sip_port: int
    data: Path
    binary: str
    log: Path
    output: Path

    def api(self, method, path, body=None, token=None):
        """A JSON request to the API: (status, parsed body)."""
        request = urllib.request.Request(self.url + path, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, json.loads(text) if text.startswith("{") else text

    def log_count(self, text):
        return self.log.read_text(errors="replace").count(text)

    def wait_for_log(self, text, count, seconds=30):
        """Until `text` has appeared in serve's log at least `count` times."""
        deadline = time.monotonic() + seconds
        while self.log_count(text) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.log_count(text) >= count, f"{text!r} seen {self.log_count(text)} times, not {count}"

    def wait_for_output(self, pattern, seconds=30):
        """The first match of `pattern` in what serve printed (its standard output), once it is there."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.output.read_text(errors="replace"), re.MULTILINE):
                return match
            time.sleep(0.2)
        raise AssertionError(f"serve printed nothing matching {pattern!r}: {self.output.read_text(errors='replace')}")

    def user(self, email, password, number=None):
        """Signs up a user; with `number`, makes them the owner of it (an admin for a moment, as the tests of the
        Swift tiers do). Returns their id and access token."""
        status, body = self.api("POST", "/api/v1/auth/signup", {"email": email, "password": password})
        assert status == 201, body
        user_id, token = body["user"]["id"], body["access_token"]
        if number:
            with sqlite3.connect(self.data / "answer-ninja.sqlite") as database:
                database.execute("UPDATE users SET role = 'admin' WHERE id = ?", (user_id,))
            status, body = self.api("POST", f"/api/v1/admin/users/{user_id}/numbers", {"number": number}, token)
            assert status == 201, body
        return user_id, token


def free_port():
    with socket.socket() as tcp:
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
    with socket.socket(type=socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
    return port


def start_serve():
    """`answer-ninja serve` on loopback ports with a fresh data directory: its process and a `Serve`."""
    data = Path(tempfile.mkdtemp(prefix="answer-ninja-browser-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSWER_NINJA_")}
    env.update(
        ANSWER_NINJA_HTTP_HOST="127.0.0.1", ANSWER_NINJA_HTTP_PORT="0", ANSWER_NINJA_DATA_DIR=str(data / "data"),
        ANSWER_NINJA_SIP_HOST="127.0.0.1", ANSWER_NINJA_SIP_PORT=str(free_port()), ANSWER_NINJA_API_BCRYPT_COST="4",
        # The user's softphone (baresip) registers with the gateway as alice, for the take-over test.
        ANSWER_NINJA_SIP_DEVICE_ACCOUNTS=f"alice:{DEVICE_PASSWORD}", ANSWER_NINJA_SIP_DEVICE_DIGEST_ALGORITHMS="md5",
        # A caller the user talks with for 3 s is learned (30 s by default), for the whitelist page's learned entries.
        ANSWER_NINJA_SIP_LEARN_AFTER="3s",
    )
    log = open(data / "serve.log", "w+")
    output = open(data / "serve.out", "w", buffering=1)
    process = subprocess.Popen([BINARY, "serve"], stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    port = sip = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (port is None or sip is None):
        line = process.stdout.readline()
        if not line:
            break
        output.write(line)
        if match := re.search(r"^\s+http\s+http://127\.0\.0\.1:(\d+)", line):
            port = int(match.group(1))
        if match := re.search(r"^\s+sip\s+sip:127\.0\.0\.1:(\d+)", line):
            sip = int(match.group(1))
    assert port and sip, f"serve printed no HTTP or SIP address; log in {log.name}"

    def drain():
        """The rest of what serve prints goes to serve.out (and the pipe never fills)."""
        for line in process.stdout:
            output.write(line)
        output.close()

    threading.Thread(target=drain, daemon=True).start()
    served = Serve(url=f"http://127.0.0.1:{port}", sip_port=sip, data=data / "data", binary=BINARY, log=data / "serve.log", output=data / "serve.out")
    return process, served


@pytest.fixture(scope="session")
def serve():
    process, served = start_serve()
    yield served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


@pytest.fixture(scope="session")
def browser():
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=390,844", "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # A headless window is at least 500 px wide: the phone's 390x844 viewport is emulated instead.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(browser, name):
    """Saves the page as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


class Baresip:
    """baresip, a real softphone, registered with the gateway as the user's device (digest), answering at once,
    sending a tone from a file; stopped at the end (and by its own -t limit whatever happens)."""

    def __init__(self, serve, user="alice", password=DEVICE_PASSWORD):
        self.directory = Path(tempfile.mkdtemp(prefix="answer-ninja-baresip-"))
        sip = free_port()
        tone = self.directory / "tone.wav"
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "10", "sine", "440"], check=True)
        (self.directory / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{sip}", "sip_trans_def udp", f"audio_player aufile,{self.directory}/received.wav",
            f"audio_source aufile,{tone}", "audio_alert aufile,/dev/null", "ausrc_srate 8000", "auplay_srate 8000", "ausrc_channels 1",
            "auplay_channels 1", "rtp_ports 40000-40999", "module_path /usr/lib/baresip/modules", "module g711.so", "module aufile.so",
            "module_app account.so", "module_app contact.so", "module_app menu.so", "net_interface 127.0.0.1", "",
        ]))
        (self.directory / "accounts").write_text(
            f"<sip:{user}@127.0.0.1:{serve.sip_port}>;auth_pass={password};regint=120;answermode=auto;audio_codecs=PCMU/8000\n"
        )
        (self.directory / "contacts").write_text("")
        self.output = open(self.directory / "baresip.log", "w+")
        self.process = subprocess.Popen(["baresip", "-f", str(self.directory), "-t", "300"], stdout=self.output, stderr=subprocess.STDOUT)

    def log(self):
        return (self.directory / "baresip.log").read_text(errors="replace")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait(browser, seconds=20):
    """A wait for a page condition. A condition polled while a form post swaps the page can read an element of the
    page that just went: Chromium says "Node with given id does not belong to the document" (a WebDriverException, not
    a stale reference). The wait polls again; a condition that never holds still times out."""
    return WebDriverWait(browser, seconds, ignored_exceptions=(StaleElementReferenceException, WebDriverException))
