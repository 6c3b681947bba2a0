"""The README's path, in a real Chromium against a `serve` started on a fresh data directory: nobody can sign in yet,
so `/` leads to the first-run setup; the setup code `serve` printed (and nothing else) makes the visitor the owner,
an admin who owns the demo alias; a call to `sip:demo@…` then appears on their live page. Someone else signs up,
owns no number, and is given one on the admin page. Setup closes once it is done."""
import re
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
from axe_selenium_python import Axe
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from conftest import screenshot, start_serve, wait

OWNER = ("owner@example.com", "the owner's long password")
CAROL = ("carol@example.com", "carol's long password")


@pytest.fixture(scope="module")
def fresh():
    process, served = start_serve()
    yield served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def fill(browser, fields):
    for name, value in fields.items():
        field = browser.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()


def no_serious_violations(browser):
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    assert results["passes"], "axe ran its rules"
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in results["violations"] if v["impact"] in ("serious", "critical")]


def fits_a_phone(browser):
    width, scroll = browser.execute_script("return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    return width == 390 and scroll <= width


def test_the_first_visitor_sets_up_with_the_printed_code_and_watches_a_call_to_demo(fresh, browser):
    code = fresh.wait_for_output(r"^\s+setup\s+no owner yet: open (http://\S+/setup) and enter the setup code (\S+)$")
    assert code.group(1) == fresh.url + "/setup", code.group(0)
    setup_code = code.group(2)
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", setup_code), setup_code

    browser.delete_all_cookies()
    browser.get(fresh.url + "/")
    wait(browser).until(EC.url_contains("/setup"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Set up Answer Ninja"
    assert "demo" in browser.find_element(By.ID, "main").text
    assert fits_a_phone(browser)
    assert no_serious_violations(browser) == []
    screenshot(browser, "setup")

    # A wrong code, then passwords that differ: refused, the email kept, nobody owns the install yet.
    fill(browser, {"code": "AAAA-BBBB-CCCC-DDDD", "name": "Olivia", "email": OWNER[0], "password": OWNER[1], "password_again": OWNER[1]})
    error = wait(browser).until(EC.visibility_of_element_located((By.ID, "error")))
    assert "setup code is wrong" in error.text
    assert browser.find_element(By.ID, "email").get_attribute("value") == OWNER[0]
    fill(browser, {"code": setup_code, "password": OWNER[1], "password_again": OWNER[1] + "x"})
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "passwords differ"))
    status, body = fresh.api("POST", "/api/v1/auth/login", {"email": OWNER[0], "password": OWNER[1]})
    assert status == 401, body

    # A post without the form's cookie (a browser keeps a Secure cookie over plain HTTP only from localhost or
    # 127.0.0.1) is refused, and says why.
    request = urllib.request.Request(fresh.url + "/setup", method="POST", data=urllib.parse.urlencode({"code": setup_code}).encode())
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403 and "did not keep the form" in refused.value.read().decode()

    # The printed code, typed in lower case with spaces: the owner is signed in and owns the demo alias.
    fill(browser, {"code": setup_code.lower().replace("-", " "), "password": OWNER[1], "password_again": OWNER[1]})
    wait(browser).until(EC.url_contains("/calls/live"))
    assert "Answer Ninja is yours" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "numbers").text == "Calls to demo appear here as they happen."
    screenshot(browser, "setup-done")

    # A call to the demo alias, as the README says, appears live with the assistant's first line.
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "live-status"), "Live:"))
    call = subprocess.Popen(
        [fresh.binary, "call", f"sip:demo@127.0.0.1:{fresh.sip_port}", "--from", "+14155550142", "--say", "hello, this is about your car warranty",
         "--duration", "8", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        card = wait(browser, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#live-calls li.card")))
        assert card.find_element(By.CSS_SELECTOR, ".caller").text == "+14155550142"
        wait(browser, 30).until(lambda _: card.find_elements(By.CSS_SELECTOR, ".transcript li.assistant"))
        _, errors = call.communicate(timeout=60)
    finally:
        if call.poll() is None:
            call.kill()
    assert call.returncode == 0, errors
    wait(browser, 20).until(lambda _: "ended" in card.get_attribute("class"))

    # Setup is closed now: the page and the API send the visitor to sign in, even with the code.
    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait(browser).until(EC.url_contains("/login"))
    assert not browser.find_elements(By.ID, "setup-link")
    browser.get(fresh.url + "/setup")
    wait(browser).until(EC.url_contains("/login"))
    status, body = fresh.api("POST", "/api/v1/setup", {"setup_code": setup_code, "email": "late@example.com", "password": "another long password"})
    assert status == 409 and body["error"]["code"] == "already_set_up", body

    # The owner signs in with what they chose; their call is in the history.
    fill(browser, {"email": OWNER[0], "password": OWNER[1]})
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(fresh.url + "/calls")
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#calls li.card")))
    assert browser.find_element(By.CSS_SELECTOR, "#calls .caller").text == "+14155550142"


def test_someone_signs_up_and_the_owner_gives_them_a_number(fresh, browser):
    browser.delete_all_cookies()
    browser.get(fresh.url + "/login")
    browser.find_element(By.LINK_TEXT, "Sign up").click()
    wait(browser).until(EC.url_contains("/signup"))
    assert fits_a_phone(browser)
    assert no_serious_violations(browser) == []
    screenshot(browser, "signup")
    fill(browser, {"name": "Carol", "email": CAROL[0], "password": "short", "password_again": "short"})
    # The browser's own check (minlength) keeps a short password from being sent; the server says so too.
    assert browser.execute_script("return document.getElementById('password').validity.tooShort")
    assert not browser.find_elements(By.ID, "error")
    status, body = fresh.api("POST", "/api/v1/auth/signup", {"email": CAROL[0], "password": "short"})
    assert status == 400 and body["error"]["code"] == "weak_password", body
    fill(browser, {"email": OWNER[0], "password": CAROL[1], "password_again": CAROL[1]})
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "account with this email exists"))
    fill(browser, {"email": CAROL[0], "password": CAROL[1], "password_again": CAROL[1]})
    wait(browser).until(EC.url_contains("/calls/live"))
    assert "own no number yet" in browser.find_element(By.ID, "numbers").text
    assert not browser.find_elements(By.LINK_TEXT, "Admin")

    # The owner gives Carol a number on the admin page; a number someone owns is refused.
    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait(browser).until(EC.url_contains("/login"))
    fill(browser, {"email": OWNER[0], "password": OWNER[1]})
    wait(browser).until(EC.url_contains("/calls/live"))
    browser.get(fresh.url + "/admin")

    def carol_card():
        return next(c for c in browser.find_elements(By.CSS_SELECTOR, "#users li.card") if CAROL[0] in c.text)

    field = carol_card().find_element(By.NAME, "number")
    field.send_keys("demo")
    field.submit()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "error"), "demo belongs to another user"))
    field = carol_card().find_element(By.NAME, "number")
    field.send_keys("(415) 555-0177")
    field.submit()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "message"), "The number is given."))
    assert "+14155550177" in carol_card().text
    assert fits_a_phone(browser)
    screenshot(browser, "admin-number")

    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait(browser).until(EC.url_contains("/login"))
    fill(browser, {"email": CAROL[0], "password": CAROL[1]})
    wait(browser).until(EC.url_contains("/calls/live"))
    assert browser.find_element(By.ID, "numbers").text == "Calls to +14155550177 appear here as they happen."
