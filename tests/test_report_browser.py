"""The report in a real browser: headless Chromium (Debian's ``chromium``) over the DevTools protocol.

It renders (a screenshot that is not blank), the filters work as a user drives them (the DOM
after a mouse click, typed text, a changed select, and a linked #fragment), details fill in
only when opened, model text cannot run script, and the console stays free of errors.
Skipped, saying why, where Chromium is not installed.
"""

from __future__ import annotations

import json

import chromium
import pytest
from chromium import Browser, assert_not_blank, chromium_or_skip, visible_ids
from report_runs import METHODS, REJECTED, XSS, correct, rsd_wrong_target_right, write_run

from rewardspec.eval.report import write_report

N = 30
WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium_or_skip()
    with Browser(tmp_path_factory.mktemp("chromium"), WIDTH, HEIGHT) as b:
        yield b


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    path, _ = write_report(write_run(tmp_path_factory.mktemp("report") / "run", N))
    return path.resolve().as_uri()


def select(browser: Browser, method: str, value: str) -> None:
    """Choose ``value`` in a method's verdict filter, as picking it from the list does."""
    browser.js(f"(() => {{ const s = document.querySelector('select[name={json.dumps(method)}]'); "
               f"s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()")


def test_the_page_renders_and_its_filters_show_the_questions_asked_for(browser, page):
    browser.open(page)
    assert browser.js("document.body.dataset.filtered") == "1"  # the script ran
    assert visible_ids(browser) == [str(i) for i in range(N)]
    assert browser.js("document.querySelectorAll('li.step').length") == 0  # nothing built before it is opened
    assert_not_blank(browser.screenshot(), WIDTH, HEIGHT)

    select(browser, "rsd", "wrong")
    select(browser, "target", "right")
    expected = rsd_wrong_target_right(N)
    assert expected and visible_ids(browser) == expected
    assert browser.js("document.getElementById('shown').textContent") == f"{len(expected)} of {N} shown"
    assert browser.js("location.hash") == "#rsd=wrong&target=right"

    browser.click("#reset")
    assert visible_ids(browser) == [str(i) for i in range(N)]
    browser.click("#disagree")
    assert browser.js("document.getElementById('disagree').checked") is True
    assert visible_ids(browser) == [str(i) for i in range(N) if len({correct(m, i) for m in METHODS}) == 2]

    browser.click("#reset")
    browser.type("#search", "That makes 14.")  # text of a step, inside question 7's unopened details
    assert visible_ids(browser) == ["7"]
    assert browser.errors() == []


def test_a_filtered_view_can_be_linked_to(browser, page):
    browser.open(page + "#rsd=wrong&target=right")
    assert visible_ids(browser) == rsd_wrong_target_right(N)
    assert browser.js("document.querySelector('select[name=\"rsd\"]').value") == "wrong"
    assert browser.errors() == []


def test_opening_a_question_shows_its_steps_with_model_text_as_text(browser, page):
    browser.open(page)
    browser.click("details.q[data-id='0'] > summary")
    browser.wait_for("!!document.querySelector(\"details.q[data-id='0'] li.step\")")
    assert browser.js("document.querySelector(\"details.q[data-id='0']\").open") is True
    steps = browser.js("Array.from(document.querySelectorAll(\"details.q[data-id='0'] section.method\"))"
                       ".map(s => Array.from(s.querySelectorAll('li.step')).map(li => li.className))")
    assert steps[0] == ["step accepted", "step rewrite", "step rewrite", "step draft"]
    struck = browser.js("(() => { const d = document.querySelector(\"details.q[data-id='0'] del\"); "
                        "return [d.textContent, getComputedStyle(d).textDecorationLine]; })()")
    assert struck == [REJECTED, "line-through"]
    first_step = browser.js("document.querySelector(\"details.q[data-id='0'] li.step pre\").textContent")
    assert XSS in first_step  # shown, not run
    assert browser.js("window.__xss === undefined")
    assert browser.js("document.querySelectorAll('.q-body img, .q-body script').length") == 0
    assert browser.js("document.querySelectorAll('details.q .q-body:not(:empty)').length") == 1
    assert_not_blank(browser.screenshot(), WIDTH, HEIGHT)
    assert browser.errors() == []


def test_a_500_question_run_opens_with_one_short_row_per_question(browser, tmp_path):
    path, _ = write_report(write_run(tmp_path / "big", 500))
    browser.open(path.resolve().as_uri())
    assert len(visible_ids(browser)) == 500
    elements = browser.js("document.getElementsByTagName('*').length")
    assert elements < 500 * 20, f"{elements} elements up front: the details are not lazy"
    assert browser.js("document.querySelectorAll('li.step').length") == 0
    select(browser, "rsd", "wrong")
    select(browser, "target", "right")
    assert visible_ids(browser) == rsd_wrong_target_right(500)
    browser.click("details.q[data-id='4'] > summary")
    browser.wait_for("!!document.querySelector('li.step')")
    assert browser.js("document.querySelectorAll('li.step').length") == 4 + 2 + 2
    assert browser.errors() == []


def test_without_chromium_the_browser_tests_say_why(monkeypatch):
    monkeypatch.delenv("REWARDSPEC_CHROMIUM", raising=False)
    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_or_skip()
