"""The upload page once in a real browser (headless Chromium through selenium), filled in as
a person would. Skips without Chromium unless BOT_TEST_REQUIRE_BROWSER=1 (as on CI)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.test_zalo_channel import Submission, give_task, offered_link, rows, texts, zalo_bot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def browser_or_skip() -> tuple[str, str]:
    if CHROMIUM and DRIVER:
        return CHROMIUM, DRIVER
    message = "Chromium and chromedriver are not installed (apt-get install chromium " \
              "chromium-driver)"
    if os.environ.get("BOT_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (BOT_TEST_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def fill_the_form(url: str, file: Path, note: str, browser: tuple[str, str]) -> tuple[str, str]:
    """Open the page on a phone-sized screen, pick the file, type a note, press the button;
    returns (the title before, the page's message after)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=390,844"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(browser[1]), options=options)
    try:
        driver.get(url)
        title = driver.find_element(By.TAG_NAME, "h1").text
        driver.find_element(By.ID, "file").send_keys(str(file))
        driver.find_element(By.ID, "note").send_keys(note)
        driver.find_element(By.ID, "send").click()
        WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located(
            (By.ID, "message")))
        return title, driver.find_element(By.ID, "message").text
    finally:
        driver.quit()


async def test_the_upload_page_in_a_real_browser() -> None:
    browser = browser_or_skip()
    async with zalo_bot() as (session, runtime):
        await give_task(session)
        url = await offered_link(session)
        file = EXAMPLES / "files" / "bao-cao-nq29-namtruc.pdf"
        title, message = await asyncio.to_thread(fill_the_form, url, file, "bản có chữ ký",
                                                 browser)
        assert title == "Gửi tệp báo cáo"
        assert "bao-cao-nq29-namtruc.pdf" in message
        session.collect()
        assert "Đã nhận tệp «bao-cao-nq29-namtruc.pdf»" in texts(session, "ht_lhp")[-1]
        files = [r for r in await rows(runtime, Submission) if r.kind == "file"]
        assert len(files) == 1 and files[0].text == "bản có chữ ký"
