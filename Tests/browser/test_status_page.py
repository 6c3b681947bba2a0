"""The status page (where everything listens) and the JSON endpoints, in a real Chromium (fixtures in conftest.py)."""
import json

from selenium.webdriver.common.by import By


def test_status_page_lists_where_everything_listens(serve, browser):
    browser.get(serve.url + "/status")
    assert browser.title == "Answer Ninja"
    rows = browser.find_elements(By.CSS_SELECTOR, "#listeners tbody tr")
    services = [row.find_element(By.TAG_NAME, "th").text for row in rows]
    assert "http" in services
    assert serve.url in browser.find_element(By.ID, "listeners").text
    assert "gateway, media, conversation, api" in browser.find_element(By.ID, "roles").text


def test_status_page_fits_a_phone_without_horizontal_scrolling(serve, browser):
    browser.get(serve.url + "/status")
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    client_width = browser.execute_script("return document.documentElement.clientWidth")
    assert client_width == 390 and scroll_width <= client_width


def test_links_reach_health_and_readiness(serve, browser):
    browser.get(serve.url + "/status")
    browser.find_element(By.LINK_TEXT, "health").click()
    body = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert body["status"] == "ok"
    browser.get(serve.url + "/ready")
    assert json.loads(browser.find_element(By.TAG_NAME, "body").text)["status"] == "ready"
