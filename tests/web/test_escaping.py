"""Text from agents and repositories is shown as text: markup in a transcript, a tool
call, a diff or a prompt renders literally and runs nothing."""
from __future__ import annotations

from urllib.parse import quote

from .browser import wait_until
from .pages import RunPage

MARKUP = ('<script>window.__pwned = "script"</script>'
          '<img src=x onerror="window.__pwned = \'img\'">')


def test_markup_from_the_agent_is_shown_as_text_and_runs_nothing(browser, web):
    prompt = f"protocol=1 lines=2 say={quote(MARKUP)} <img src=x onerror=window.__pwned=1>"
    run_id = web.start_run(prompt, variations=1)
    web.wait_finished(run_id)
    browser.get(web.page(f"/runs/{run_id}"))
    page = RunPage(browser)
    page.wait_status("completed")
    page.wait_diffs([0])
    wait_until(browser, lambda d: page.entries(0, "log"))

    assert page.entries(0, "thinking")[0] == MARKUP
    assert page.entries(0, "text")[0] == MARKUP
    assert page.entries(0, "log")[0] == MARKUP
    assert MARKUP in page.entries(0, "tool")[0]
    added = page.js("return [...document.querySelectorAll('.diff-add .code')]"
                    ".map(n => n.textContent)")
    assert MARKUP in added
    assert page.text_of('[data-role="prompt"]') == prompt

    assert page.js("return document.querySelectorAll("
                   "'main img, main script, main [onerror]').length") == 0
    assert page.js("return window.__pwned === undefined")

    # The runs list shows the prompt as text too.
    browser.get(web.page("/runs"))
    wait_until(browser, f"document.querySelector('tr[data-run-id=\"{run_id}\"]')")
    assert page.js(f"return document.querySelector('tr[data-run-id=\"{run_id}\"] "
                   f".what > a').textContent").startswith("protocol=1 lines=2 say=")
    assert page.js("return document.querySelectorAll('main img, main script').length") == 0
    assert page.js("return window.__pwned === undefined")
