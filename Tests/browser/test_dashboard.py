"""The dashboard in a real Chromium against one `serve`: sign-in, a real call (our softphone, `answer-ninja call`,
speaking a telemarketer's script to the assistant) watched live with its transcript, then found in the history and
played from its detail page; CSRF and cross-site refusals; a second user who sees nothing of the first; every page at
390x844 without sideways scrolling. Screenshots of each page are saved as artefacts."""
import base64
import hashlib
import hmac
import http.client
import json
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.parse

import pytest
from axe_selenium_python import Axe
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from conftest import ROOT, Baresip, screenshot, wait

ALICE = ("alice@example.com", "correct horse battery")
BOB = ("bob@example.com", "another long password")
NUMBER = "+14155550100"


@pytest.fixture(scope="module")
def alice(serve):
    return serve.user(*ALICE, number=NUMBER)


@pytest.fixture(scope="module")
def bob(serve):
    return serve.user(*BOB)


def sign_in(browser, serve, email, password, totp=""):
    browser.delete_all_cookies()
    browser.get(serve.url + "/login")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    if totp:
        browser.find_element(By.ID, "totp").send_keys(totp)
    browser.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()


def fits_a_phone(browser):
    """390 px wide (the emulated phone) and nothing wider than that."""
    width, scroll = browser.execute_script("return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    assert width == 390, width
    return scroll <= width


def test_sign_in_refuses_a_wrong_password_then_opens_the_live_page(serve, browser, alice):
    browser.delete_all_cookies()
    browser.get(serve.url + "/")
    wait(browser).until(EC.url_contains("/login"))
    sign_in(browser, serve, ALICE[0], "not the password")
    error = wait(browser).until(EC.visibility_of_element_located((By.ID, "error")))
    assert "wrong" in error.text
    # The email typed stays; the password does not.
    assert browser.find_element(By.ID, "email").get_attribute("value") == ALICE[0]
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""
    screenshot(browser, "sign-in-error")

    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Live calls"
    cookie = browser.get_cookie("__Host-ninja_session")
    assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert browser.execute_script("return document.cookie") == "", "the session cookie is not readable by scripts"


def test_a_call_is_watched_live_then_found_in_the_history_and_played(serve, browser, alice):
    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
    script = ROOT / "Fixtures" / "conversations" / "insurance_sales.txt"
    call = subprocess.Popen(
        [serve.binary, "call", f"sip:{NUMBER}@127.0.0.1:{serve.sip_port}", "--script", str(script), "--duration", "45", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The card appears as the call comes in, and its transcript grows: the assistant's opening, then the caller.
        card = wait(browser, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#live-calls li.card")))
        wait(browser, 60).until(lambda _: len(card.find_elements(By.CSS_SELECTOR, ".transcript li.caller")) >= 1)
        lines = [line.text for line in card.find_elements(By.CSS_SELECTOR, ".transcript li")]
        assert lines[0].startswith("Assistant:") and any(line.startswith("Caller:") for line in lines), lines
        assert card.find_element(By.CSS_SELECTOR, ".decision").text == "screen"
        assert browser.find_element(By.ID, "no-calls").get_attribute("hidden") is not None
        screenshot(browser, "live-call")
        output, errors = call.communicate(timeout=150)
    finally:
        if call.poll() is None:
            call.kill()
    assert call.returncode == 0, errors
    # The call ended (the caller hangs up after 45 s, if the assistant has not before): the card says so and its
    # buttons are off.
    wait(browser, 20).until(lambda _: "ended" in card.get_attribute("class"))
    assert "ended" in card.find_element(By.CSS_SELECTOR, ".state").text
    assert all(not button.is_enabled() for button in card.find_elements(By.TAG_NAME, "button"))
    live_intent = card.find_element(By.CSS_SELECTOR, ".intent").text

    # The history lists it; filtering by words said finds it, and by other words does not.
    browser.get(serve.url + "/calls")
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#calls li.card")))
    assert browser.find_element(By.CSS_SELECTOR, "#calls .caller").text
    assert fits_a_phone(browser)
    screenshot(browser, "history")
    # Two words of the assistant's first reply, in capitals, typed into the filter form (which sends the space as
    # `+`): the search ignores case.
    _, token = alice
    status, calls = serve.api("GET", "/api/v1/calls", token=token)
    status, record = serve.api("GET", "/api/v1/calls/" + urllib.parse.quote(calls["calls"][0]["id"], safe=""), token=token)
    assert status == 200 and record["turns"], record
    # The live card showed the intent of the call's last turn, which the record keeps.
    assert live_intent and live_intent == record["intent"], (live_intent, record["intent"])
    phrase = re.search(r"[a-z']+ [a-z']+", record["turns"][0]["reply_text"].lower()).group(0).upper()
    browser.find_element(By.ID, "q").send_keys(phrase)
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait(browser).until(EC.url_contains("q="))
    assert "+" in browser.current_url and len(browser.find_elements(By.CSS_SELECTOR, "#calls li.card")) == 1, (phrase, browser.current_url)
    browser.get(serve.url + "/calls?q=zebra+crossing")
    assert browser.find_elements(By.CSS_SELECTOR, "#calls li.card") == [] and browser.find_element(By.ID, "count").text == "No calls match."
    # By outcome (the select offers the outcomes this user's calls have) and by day.
    outcome = record["outcome"]
    assert outcome in [option.get_attribute("value") for option in browser.find_elements(By.CSS_SELECTOR, "#outcome option")]
    browser.get(serve.url + "/calls?outcome=" + outcome + "&from=2000-01-01")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#calls li.card")) == 1, outcome
    browser.get(serve.url + "/calls?from=2000-01-01&to=2000-01-02")
    assert browser.find_elements(By.CSS_SELECTOR, "#calls li.card") == []
    browser.get(serve.url + "/calls")

    # Its detail: the decision, the transcript, the latency waterfall, and the recording plays.
    browser.find_element(By.CSS_SELECTOR, "#calls li.card a").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "recording")))
    assert browser.find_element(By.ID, "decision").text == "screen"
    assert record["intent"] in browser.find_element(By.ID, "intent").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#transcript li")) >= 1
    bars = browser.find_elements(By.CSS_SELECTOR, "#waterfall rect.stage")
    assert len(bars) >= 4, "a bar per stage of at least one turn, and the legend"
    played = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const audio = document.getElementById("recording");
        audio.play().then(() => {
          const check = () => audio.readyState >= 2 && audio.duration > 0 ? done({ready: audio.readyState, duration: audio.duration})
                                                                          : setTimeout(check, 100);
          check();
        }, (error) => done({error: String(error)}));
        """
    )
    assert "error" not in played and played["ready"] >= 2 and played["duration"] > 5, played
    assert fits_a_phone(browser)
    screenshot(browser, "call-detail")


def session_for(serve, email, password):
    """Signs in without a browser: the session cookie and the live page's CSRF token."""
    connection = http.client.HTTPConnection(serve.url.removeprefix("http://"), timeout=20)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    signin_cookie = re.search(r"__Host-ninja_signin=([^;]+)", response.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf": token, "email": email, "password": password})
    connection.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"__Host-ninja_signin={signin_cookie}"})
    response = connection.getresponse()
    response.read()
    assert response.status == 303, response.status
    session = re.search(r"__Host-ninja_session=([^;]+)", response.getheader("Set-Cookie")).group(1)
    connection.request("GET", "/calls/live", headers={"Cookie": f"__Host-ninja_session={session}"})
    response = connection.getresponse()
    csrf = re.search(r'name="csrf" value="([^"]+)"', response.read().decode()).group(1)
    return connection, session, csrf


def test_posts_without_the_csrf_token_or_from_another_site_are_refused(serve, alice):
    connection, session, csrf = session_for(serve, *ALICE)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"__Host-ninja_session={session}"}

    def post(path, fields, extra=None):
        connection.request("POST", path, urllib.parse.urlencode(fields), {**form, **(extra or {})})
        response = connection.getresponse()
        return response.status, response.read().decode()

    assert post("/logout", {})[0] == 403
    assert post("/logout", {"csrf": "forged"})[0] == 403
    assert post("/logout", {"csrf": csrf}, {"Origin": "http://evil.example"})[0] == 403
    assert post("/logout", {"csrf": csrf}, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    # The live event stream is not for other sites either.
    connection.request("GET", "/calls/live/events", headers={"Cookie": f"__Host-ninja_session={session}", "Origin": "http://evil.example"})
    response = connection.getresponse()
    response.read()
    assert response.status == 403
    # A sign-in form posted without the form's cookie, or with a token other than the cookie's, is refused before any
    # password is checked (without the cookie, saying why a browser may not have kept it).
    connection.request("POST", "/login", urllib.parse.urlencode({"csrf": "x", "email": ALICE[0], "password": ALICE[1]}),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    assert response.status == 403 and "did not keep the form" in response.read().decode()
    connection.request("POST", "/login", urllib.parse.urlencode({"csrf": "x", "email": ALICE[0], "password": ALICE[1]}),
                       {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "__Host-ninja_signin=y"})
    response = connection.getresponse()
    assert response.status == 403 and "expired" in response.read().decode()
    # With the token, from this site: signed out, and the session no longer opens anything.
    status, _ = post("/logout", {"csrf": csrf}, {"Origin": serve.url})
    assert status == 303
    connection.request("GET", "/calls/live", headers={"Cookie": f"__Host-ninja_session={session}"})
    response = connection.getresponse()
    response.read()
    assert response.status == 303 and response.getheader("Location") == "/login"


def test_a_second_user_sees_nothing_of_the_first_users_calls(serve, browser, alice, bob):
    _, token = alice
    status, page = serve.api("GET", "/api/v1/calls", token=token)
    assert status == 200 and page["calls"], "the live test placed a call"
    call_id = page["calls"][0]["id"]
    sign_in(browser, serve, *BOB)
    wait(browser).until(EC.url_contains("/calls/live"))
    assert browser.find_elements(By.CSS_SELECTOR, "#live-calls li.card") == []
    browser.get(serve.url + "/calls")
    assert browser.find_element(By.ID, "count").text == "No calls match."
    path = urllib.parse.quote(call_id, safe="")
    browser.get(f"{serve.url}/calls/{path}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    connection, session, _ = session_for(serve, *BOB)
    for resource in (f"/calls/{path}", f"/calls/{path}/recording"):
        connection.request("GET", resource, headers={"Cookie": f"__Host-ninja_session={session}"})
        response = connection.getresponse()
        response.read()
        assert response.status == 404, resource
    # Live events: during a call to the first user's number, the first user's stream carries it and the second's
    # carries nothing of it.
    alice_connection, alice_session, _ = session_for(serve, *ALICE)
    streams = {}

    def listen(name, cookie):
        """Reads the event stream for 14 s over a plain socket (closed at the end, whatever happens)."""
        received = b""
        with socket.create_connection(("127.0.0.1", int(serve.url.rsplit(":", 1)[1])), timeout=5) as stream:
            stream.sendall(f"GET /calls/live/events HTTP/1.1\r\nHost: {serve.url.removeprefix('http://')}\r\nCookie: __Host-ninja_session={cookie}\r\n\r\n".encode())
            stream.settimeout(0.5)
            deadline = time.monotonic() + 14
            while time.monotonic() < deadline:
                try:
                    chunk = stream.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                received += chunk
        text = received.decode(errors="replace")
        streams[name] = (int(text.split(" ", 2)[1]) if text.startswith("HTTP/1.1 ") else 0, text)

    listeners = [threading.Thread(target=listen, args=("alice", alice_session)), threading.Thread(target=listen, args=("bob", session))]
    for listener in listeners:
        listener.start()
    time.sleep(1)
    place_call(serve, "+14155550321", 5).communicate(timeout=60)
    for listener in listeners:
        listener.join()
    assert streams["alice"][0] == 200 and "event: call_started" in streams["alice"][1] and "+14155550321" in streams["alice"][1], streams["alice"]
    assert streams["bob"][0] == 200 and "event:" not in streams["bob"][1] and "+14155550321" not in streams["bob"][1], streams["bob"]

    # A live card asked for by id is drawn from the request alone, as for a call not yet stored: nothing of the first
    # user's call, and no sign that the id exists.
    connection.request("GET", f"/calls/live/card?id={path}", headers={"Cookie": f"__Host-ninja_session={session}"})
    response = connection.getresponse()
    card = response.read().decode()
    assert response.status == 200 and '<span class="caller">unknown</span>' in card and '<li class="caller">' not in card, card


def place_call(serve, caller, seconds, say="hello, I am calling about your account"):
    """Our softphone calls the user's number from `caller`, says a line and stays `seconds`."""
    return subprocess.Popen(
        [serve.binary, "call", f"sip:{NUMBER}@127.0.0.1:{serve.sip_port}", "--from", caller, "--say", say, "--duration", str(seconds), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def card_of(browser, caller, seconds=30):
    """The live card of the newest call from `caller`, once it is there."""
    def find(_):
        cards = [c for c in browser.find_elements(By.CSS_SELECTOR, "#live-calls li.card") if c.find_element(By.CSS_SELECTOR, ".caller").text == caller]
        return cards[0] if cards else False
    return wait(browser, seconds).until(find)


def test_the_whitelist_page_adds_imports_and_removes_entries(serve, browser, alice):
    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/whitelist")
    # A temporary entry with a name.
    browser.find_element(By.ID, "pattern").send_keys("(415) 555-0999")
    browser.find_element(By.ID, "label").send_keys("Dentist")
    browser.find_element(By.ID, "minutes").send_keys("60")
    browser.find_element(By.CSS_SELECTOR, "form[action='/whitelist'] button").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Added"))
    entry = [e for e in browser.find_elements(By.CSS_SELECTOR, "#entries li") if "+14155550999" in e.text]
    assert entry and "Dentist" in entry[0].text and "temporary" in entry[0].text and "until" in entry[0].text, [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#entries li")]
    # A number that is not one: a clear error, nothing added.
    browser.find_element(By.ID, "pattern").send_keys("12")
    browser.find_element(By.CSS_SELECTOR, "form[action='/whitelist'] button").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "error")))
    assert browser.find_element(By.ID, "error").text
    # Contacts pasted from a CSV export; a line without a number is reported.
    browser.find_element(By.ID, "contacts").send_keys("name,phone\nMum,+14155550111\nNobody,\n")
    browser.find_element(By.CSS_SELECTOR, "form[action='/whitelist/import'] button").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "added 1"))
    assert "line 3" in browser.find_element(By.ID, "problems").text
    assert any("+14155550111" in e.text and "contact" in e.text and "Mum" in e.text for e in browser.find_elements(By.CSS_SELECTOR, "#entries li"))
    assert fits_a_phone(browser)
    screenshot(browser, "whitelist")
    # Removed.
    entry = [e for e in browser.find_elements(By.CSS_SELECTOR, "#entries li") if "+14155550999" in e.text][0]
    entry.find_element(By.TAG_NAME, "button").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Removed"))
    assert not any("+14155550999" in e.text for e in browser.find_elements(By.CSS_SELECTOR, "#entries li"))


def test_a_new_persona_is_heard_on_the_next_call(serve, browser, alice):
    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/settings")
    Select(browser.find_element(By.ID, "persona")).select_by_value("direct")
    # A value the server refuses (the browser's own checks pass it): the reason, and nothing is saved.
    browser.find_element(By.ID, "webhook_url").send_keys("http://hooks.example.com/ninja")
    browser.find_element(By.CSS_SELECTOR, "form[action='/settings'] button[type=submit]").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "error")))
    assert "webhook_url must be an https:// URL" in browser.find_element(By.ID, "error").text
    assert serve.api("GET", "/api/v1/settings", token=alice[1])[1]["persona"] == "polite"
    # The form kept what was typed: the persona still chosen.
    assert Select(browser.find_element(By.ID, "persona")).first_selected_option.get_attribute("value") == "direct"
    browser.find_element(By.ID, "webhook_url").clear()
    threshold = browser.find_element(By.ID, "block_threshold")
    threshold.clear()
    threshold.send_keys("0.9")
    browser.find_element(By.CSS_SELECTOR, "form[action='/settings'] button[type=submit]").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Saved"))
    assert Select(browser.find_element(By.ID, "persona")).first_selected_option.get_attribute("value") == "direct"
    assert fits_a_phone(browser)
    screenshot(browser, "settings")
    status, settings = serve.api("GET", "/api/v1/settings", token=alice[1])
    assert settings["persona"] == "direct" and settings["block_threshold"] == 0.9

    browser.get(serve.url + "/calls/live")
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
    call = place_call(serve, "+14155550777", 40)
    card = card_of(browser, "+14155550777")
    wait(browser, 30).until(lambda _: card.find_elements(By.CSS_SELECTOR, ".transcript li.assistant"))
    opening = card.find_element(By.CSS_SELECTOR, ".transcript li.assistant").text
    assert opening.startswith("Assistant: This is"), opening  # the direct persona's opening
    # Hung up from the live view: the caller's side sees the far end hang up long before its 40 s.
    clicked = time.monotonic()
    card.find_element(By.XPATH, ".//button[text()='Hang up']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "being hung up"))
    output, _ = call.communicate(timeout=30)
    result = json.loads(output)
    assert result["hangup_side"] == "remote" and time.monotonic() - clicked < 20, result
    # Back to the default for the tests after this one.
    browser.get(serve.url + "/settings")
    Select(browser.find_element(By.ID, "persona")).select_by_value("polite")
    browser.find_element(By.CSS_SELECTOR, "form[action='/settings'] button[type=submit]").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Saved"))


def test_a_caller_whitelisted_from_the_live_view_is_put_through_next_time(serve, browser, alice):
    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
    caller = "+14155550123"
    call = place_call(serve, caller, 20)
    card = card_of(browser, caller)
    wait(browser, 20).until(lambda _: card.find_element(By.CSS_SELECTOR, ".decision").text == "screen")
    card.find_element(By.XPATH, ".//button[text()='Whitelist the caller']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "whitelist"))
    call.communicate(timeout=60)
    status, entries = serve.api("GET", "/api/v1/whitelist", token=alice[1])
    assert any(e["pattern"] == caller and e["source"] == "manual" and "whitelisted from call" in e["reason"] for e in entries["entries"]), entries

    # The next call from that number is allowed by the whitelist and put through to the user's softphone.
    registered, bridged = serve.log_count("device registered"), serve.log_count('"msg":"bridged"')
    phone = Baresip(serve)
    try:
        serve.wait_for_log("device registered", registered + 1)
        status, body = serve.api("PATCH", "/api/v1/me", {"forwarding_target": "sip:alice@127.0.0.1"}, alice[1])
        assert status == 200, body
        browser.get(serve.url + "/calls/live")
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
        again = place_call(serve, caller, 6)
        card = card_of(browser, caller)
        wait(browser, 20).until(lambda _: card.find_element(By.CSS_SELECTOR, ".decision").text == "allow")
        assert "whitelist" in card.find_element(By.CSS_SELECTOR, ".reasons").text
        serve.wait_for_log('"msg":"bridged"', bridged + 1)
        again.communicate(timeout=60)
        assert "Call established" in phone.log(), phone.log()[-2000:]
    finally:
        phone.stop()

    # Its profile: two calls; marked as spam by the user, and that is shown.
    browser.get(serve.url + "/profiles/" + urllib.parse.quote(caller, safe=""))
    assert browser.find_element(By.ID, "number").text == caller
    browser.find_element(By.XPATH, "//button[text()='Mark as spam']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Saved: spam"))
    assert browser.find_element(By.ID, "verdict").text == "spam"
    assert fits_a_phone(browser)
    screenshot(browser, "profile")


def test_taking_over_a_live_call_rings_the_users_softphone(serve, browser, alice):
    registered, taken = serve.log_count("device registered"), serve.log_count('"msg":"taken over"')
    phone = Baresip(serve)
    try:
        serve.wait_for_log("device registered", registered + 1)
        sign_in(browser, serve, *ALICE)
        wait(browser).until(EC.url_contains("/calls/live"))
        browser.get(serve.url + "/settings")
        target = browser.find_element(By.ID, "forwarding_target")
        target.clear()
        target.send_keys("sip:alice@127.0.0.1")
        browser.find_element(By.CSS_SELECTOR, "form[action='/settings'] button[type=submit]").click()
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Saved"))
        assert browser.find_element(By.ID, "forwarding_target").get_attribute("value") == "sip:alice@127.0.0.1"

        browser.get(serve.url + "/calls/live")
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
        caller = "+14155550888"
        call = place_call(serve, caller, 25)
        card = card_of(browser, caller)
        wait(browser, 20).until(lambda _: card.find_elements(By.CSS_SELECTOR, ".transcript li.assistant"))
        card.find_element(By.XPATH, ".//button[text()='Take over']").click()
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Your devices are ringing"))
        screenshot(browser, "take-over")
        # The softphone rings, answers (auto-answer), and the caller is put through to it.
        serve.wait_for_log('"msg":"taken over"', taken + 1, seconds=20)
        assert "Call established" in phone.log(), phone.log()[-2000:]
        call.communicate(timeout=60)
        # The user talked with the caller: the whitelist learned them, and says why.
        browser.get(serve.url + "/whitelist")
        learned = wait(browser, 20).until(
            lambda _: [e for e in browser.find_elements(By.CSS_SELECTOR, "#entries li") if caller in e.text] or browser.refresh()
        )
        assert "learned" in learned[0].text and "Why: call accepted" in learned[0].text and "talked" in learned[0].text, learned[0].text
    finally:
        phone.stop()


def test_the_admin_page_shows_health_calls_latency_and_users_to_admins_only(serve, browser, alice, bob):
    sign_in(browser, serve, *ALICE)  # the owner of the number was made an admin (conftest)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.find_element(By.LINK_TEXT, "Admin").click()
    wait(browser).until(EC.presence_of_element_located((By.ID, "health")))
    assert browser.find_element(By.ID, "health").text.startswith("Ready")
    checks = browser.find_element(By.ID, "checks").text
    assert "store: ready" in checks and "sip: ready" in checks, checks
    # The calls the tests before placed, counted per hour from the records, with a bar for this hour.
    total = int(browser.find_element(By.ID, "calls-total").text.split()[0])
    assert total >= 4 and browser.find_elements(By.CSS_SELECTOR, "#calls-per-hour rect.bar")
    stages = {row.find_element(By.TAG_NAME, "th").text: row.find_elements(By.TAG_NAME, "td")[0].text for row in browser.find_elements(By.CSS_SELECTOR, "#latency tbody tr")}
    assert "stt_final" in stages and "total" in stages and stages["total"].endswith(" ms"), stages
    users = browser.find_element(By.ID, "users").text
    assert ALICE[0] in users and BOB[0] in users and "+14155550100" in users
    assert fits_a_phone(browser)
    screenshot(browser, "admin")
    # Anyone else: no such page, and no link to it.
    sign_in(browser, serve, *BOB)
    wait(browser).until(EC.url_contains("/calls/live"))
    assert browser.find_elements(By.LINK_TEXT, "Admin") == []
    browser.get(serve.url + "/admin")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"


def test_a_user_exports_their_data_then_deletes_everything(serve, browser):
    carol = ("carol@example.com", "carols long password")
    serve.user(*carol)
    connection, session, _ = session_for(serve, *carol)
    connection.request("GET", "/settings/export", headers={"Cookie": f"__Host-ninja_session={session}"})
    response = connection.getresponse()
    archive = response.read()
    assert response.status == 200 and response.getheader("Content-Type") == "application/x-tar"
    assert b"answer-ninja-export/account.json" in archive and carol[0].encode() in archive

    sign_in(browser, serve, *carol)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/settings")
    assert browser.find_element(By.ID, "export").get_attribute("href").endswith("/settings/export")
    # The wrong password deletes nothing.
    browser.find_element(By.ID, "delete_password").send_keys("not my password")
    browser.find_element(By.CSS_SELECTOR, "#delete-everything button").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "Nothing was deleted"))
    browser.find_element(By.ID, "delete_password").send_keys(carol[1])
    browser.find_element(By.CSS_SELECTOR, "#delete-everything button").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "deleted"))
    assert "/login" in browser.current_url
    # Gone: the account signs in no more, and the old session opens nothing.
    status, body = serve.api("POST", "/api/v1/auth/login", {"email": carol[0], "password": carol[1]})
    assert status == 401, body
    connection.request("GET", "/settings", headers={"Cookie": f"__Host-ninja_session={session}"})
    response = connection.getresponse()
    response.read()
    assert response.status == 303 and response.getheader("Location") == "/login"


def totp_code(key, at=None):
    """RFC 6238 (SHA-1, 30 s, 6 digits) for a base32 key, as an authenticator app computes it."""
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    counter = struct.pack(">Q", int((at or time.time()) // 30))
    digest = hmac.new(secret, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def test_two_factor_sign_in_is_set_up_used_and_turned_off_from_the_settings(serve, browser):
    dave = ("dave@example.com", "daves long password")
    serve.user(*dave)
    sign_in(browser, serve, *dave)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/settings")
    assert browser.find_element(By.ID, "totp-state").text == "Off."
    browser.find_element(By.XPATH, "//button[text()='Set up two-factor sign-in']").click()
    key = wait(browser).until(EC.presence_of_element_located((By.ID, "totp-key"))).text
    assert browser.find_element(By.ID, "totp-url").get_attribute("href").startswith("otpauth://totp/")
    browser.find_element(By.ID, "verify_code").send_keys("000000" if totp_code(key) != "000000" else "111111")
    browser.find_element(By.XPATH, "//button[text()='Turn on']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "does not match"))
    # The pending key is still there to try again with: start again shows a fresh page with a key.
    browser.find_element(By.XPATH, "//button[text()='Set up two-factor sign-in']").click()
    key = wait(browser).until(EC.presence_of_element_located((By.ID, "totp-key"))).text
    browser.find_element(By.ID, "verify_code").send_keys(totp_code(key))
    browser.find_element(By.XPATH, "//button[text()='Turn on']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Two-factor sign-in is on"))
    # Signing in now needs the code.
    sign_in(browser, serve, *dave)
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "6-digit code"))
    sign_in(browser, serve, *dave, totp=totp_code(key))
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/settings")
    browser.find_element(By.ID, "stop_code").send_keys(totp_code(key))
    browser.find_element(By.XPATH, "//button[text()='Turn off']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "Two-factor sign-in is off"))
    sign_in(browser, serve, *dave)
    wait(browser).until(EC.url_contains("/calls/live"))


def test_an_admin_changes_another_users_role(serve, browser, alice, bob):
    sign_in(browser, serve, *ALICE)
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(serve.url + "/admin")

    def card(email):
        return [c for c in browser.find_elements(By.CSS_SELECTOR, "#users li") if email in c.text][0]

    assert card(ALICE[0]).find_elements(By.XPATH, ".//button[starts-with(text(), 'Make')]") == [], "no button to change one's own role"
    button = card(BOB[0]).find_element(By.XPATH, ".//button[text()='Make admin']")
    button.click()
    wait(browser).until(EC.staleness_of(button))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "role is changed"))
    assert card(BOB[0]).find_element(By.CSS_SELECTOR, ".role").text == "admin"
    status, audit = serve.api("GET", "/api/v1/admin/audit", token=alice[1])
    assert status == 200 and audit["entries"][0]["action"] == "user.role", audit
    button = card(BOB[0]).find_element(By.XPATH, ".//button[text()='Make user']")
    button.click()
    wait(browser).until(EC.staleness_of(button))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "role is changed"))
    assert card(BOB[0]).find_element(By.CSS_SELECTOR, ".role").text == "user"


SIGNED_OUT_PAGES = {"/login", "/signup"}
AXE_PAGES = ["/login", "/signup", "/calls/live", "/calls", "detail", "/whitelist", "/settings", "/profiles/+14155550123", "/admin"]


@pytest.mark.parametrize("path", AXE_PAGES)
def test_axe_finds_no_serious_or_critical_accessibility_violations(serve, browser, alice, path):
    if path in SIGNED_OUT_PAGES:
        browser.delete_all_cookies()
    else:
        sign_in(browser, serve, *ALICE)
        wait(browser).until(EC.url_contains("/calls/live"))
    if path == "detail":  # the newest call's page, with its player and waterfall
        status, page = serve.api("GET", "/api/v1/calls", token=alice[1])
        assert status == 200 and page["calls"], page
        path = "/calls/" + urllib.parse.quote(page["calls"][0]["id"], safe="")
    browser.get(serve.url + path)
    wait(browser).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    assert results["passes"], "axe ran its rules"
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], bad


@pytest.mark.parametrize("path", ["/login", "/signup", "/calls/live", "/calls", "/calls?from=not-a-date", "/whitelist", "/settings", "/profiles/+14155550123"])
def test_every_page_fits_a_phone_screen(serve, browser, alice, path):
    if path not in SIGNED_OUT_PAGES:
        sign_in(browser, serve, *ALICE)
        wait(browser).until(EC.url_contains("/calls/live"))
    else:
        browser.delete_all_cookies()
    browser.get(serve.url + path)
    try:
        wait(browser, 10).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    except TimeoutException:
        pytest.fail(f"{path} has no heading")
    assert fits_a_phone(browser), path
    # Every field has a label a screen reader reads (a label for it, or one around it).
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select, textarea"):
        assert browser.execute_script("return arguments[0].labels.length", field) > 0, field.get_attribute("name")
    screenshot(browser, "page" + re.sub(r"[^a-z]+", "-", path))
