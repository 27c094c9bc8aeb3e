"""Chat playground: a streamed answer, and approve vs reject of an interrupt."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.e2e.harness import Deployment

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# Records every distinct text of the last assistant message as the DOM changes, so the test
# sees the answer arrive in pieces rather than all at once.
WATCH_STREAM = """() => {
  window.__seen = [];
  const box = document.querySelector('[data-testid=messages]');
  new MutationObserver(() => {
    const ai = box.querySelectorAll('[data-testid=msg-ai] .text');
    const text = ai.length ? ai[ai.length - 1].textContent : '';
    if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
  }).observe(box, {subtree: true, childList: true, characterData: true});
}"""


def _send(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def _thread_id(page: Page) -> str:
    page.wait_for_url("**/console?*thread=*")
    return page.url.split("thread=", 1)[1].split("&", 1)[0]


def test_chat_streams_the_answer(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console")
    expect(page.get_by_label("Message")).to_be_visible()
    page.evaluate(WATCH_STREAM)
    _send(page, "please calculate 6*7")
    answer = page.get_by_test_id("msg-ai").last
    expect(answer).to_contain_text("The tool returned: 42.", timeout=30_000)
    # The tool call is folded under the AI message that made it, with its result.
    fold = page.get_by_test_id("tool-call").first
    expect(fold).to_contain_text("calculator")
    expect(fold).to_contain_text("42")
    fold.locator("summary").click()
    expect(fold).to_contain_text('"expression"')
    seen: list[str] = page.evaluate("window.__seen")
    partial = [s for s in seen if "The tool returned: 42." not in s]
    assert partial, f"the answer appeared in one piece, not streamed: {seen}"
    thread_id = _thread_id(page)
    # Deep link: a reload shows the same conversation from the thread's state.
    page.reload()
    expect(page.get_by_test_id("msg-ai").last).to_contain_text("The tool returned: 42.")
    state = httpx.get(f"{deployment.base_url}/threads/{thread_id}/state").json()
    assert state["values"]["messages"][-1]["content"] == "The tool returned: 42."
    if deployment.kind == "dev":
        screenshot(page, "chat")


def test_approve_one_interrupt_and_reject_another(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console")
    sent: dict[str, list[object]] = {}
    for decision in ("Approve", "Reject"):
        page.get_by_role("button", name="New conversation").click()
        _send(page, "send an email about the release")
        card = page.get_by_test_id("interrupt")
        expect(card).to_contain_text("approve_tool_calls", timeout=30_000)
        expect(card).to_contain_text("send_email")
        thread_id = _thread_id(page)
        if decision == "Approve" and deployment.kind == "dev":
            screenshot(page, "chat-interrupt")
        card.get_by_role("button", name=decision).click()
        expect(card).to_have_count(0, timeout=30_000)
        expected = "sent." if decision == "Approve" else "The user rejected this action."
        expect(page.get_by_test_id("tool-call").last).to_contain_text(expected, timeout=30_000)
        expect(page.get_by_test_id("state-values")).to_contain_text('"sent_emails"')
        state = httpx.get(f"{deployment.base_url}/threads/{thread_id}/state").json()
        sent[decision] = state["values"].get("sent_emails", [])
    assert sent["Approve"] == [{"to": "team@example.com", "subject": "the release"}]
    assert sent["Reject"] == []


def test_edit_and_resume_with_a_typed_value(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console?assistant=approval")
    page.get_by_label("Input (JSON)").fill('{"request": "the deploy", "steps": 1}')
    page.get_by_role("button", name="Send").click()
    card = page.get_by_test_id("interrupt")
    expect(card).to_contain_text("approve the deploy?", timeout=30_000)
    thread_id = _thread_id(page)
    card.get_by_role("button", name="Edit and resume…").click()
    card.get_by_label("Resume value (JSON)").fill("{not json")
    card.get_by_role("button", name="Resume", exact=True).click()
    expect(card).to_contain_text("not valid JSON")
    card.get_by_label("Resume value (JSON)").fill('{"approved": true, "note": "<b>ship it</b>"}')
    card.get_by_role("button", name="Resume", exact=True).click()
    expect(card).to_have_count(0, timeout=30_000)
    # User content is text, never HTML: the tags show as typed and no <b> element exists.
    expect(page.get_by_test_id("state-values")).to_contain_text("<b>ship it</b>", timeout=30_000)
    assert page.locator("[data-testid=state-values] b").count() == 0
    state = httpx.get(f"{deployment.base_url}/threads/{thread_id}/state").json()
    assert state["values"]["answer"] == {"approved": True, "note": "<b>ship it</b>"}


def test_pages_fit_a_phone_screen(page: Page, deployment: Deployment) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{deployment.base_url}/console")
    _send(page, "please calculate 6*7")
    expect(page.get_by_test_id("msg-ai").last).to_contain_text("returned: 42.", timeout=30_000)
    if deployment.kind == "dev":
        screenshot(page, "chat-phone")
    for path in ("", "/runs", "/workers", "/threads", "/store", "/crons"):
        page.goto(f"{deployment.base_url}/console{path}")
        expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
        # The page itself never scrolls sideways (wide tables scroll inside their own box).
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"/console{path} is {overflow}px wider than a phone"


def test_fork_from_a_checkpoint_of_the_history(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console")
    _send(page, "please calculate 6*7")
    expect(page.get_by_test_id("msg-ai").last).to_contain_text("returned: 42.", timeout=30_000)
    thread_id = _thread_id(page)
    history = page.get_by_role("complementary", name="Thread state").locator(".history li")
    first = history.filter(has_text="step -1")  # the checkpoint before the first message
    expect(first).to_have_count(1)
    first.get_by_role("button", name="Fork").click()
    expect(page.locator(".fork-note")).to_contain_text("Forking from checkpoint")
    _send(page, "please calculate 2*3")
    expect(page.get_by_test_id("msg-ai").last).to_contain_text("returned: 6.", timeout=30_000)
    # The new branch starts from the empty thread: the first question is not in it.
    state = httpx.get(f"{deployment.base_url}/threads/{thread_id}/state").json()
    humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    assert humans == ["please calculate 2*3"]
    expect(page.get_by_test_id("messages")).not_to_contain_text("6*7")


def test_a_failed_run_shows_its_error(page: Page, deployment: Deployment) -> None:
    page.goto(f"{deployment.base_url}/console?assistant=counter")
    page.get_by_label("Input (JSON)").fill('{"steps": 3, "fail_at": 2}')
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("run-error")).to_contain_text("failed at step 2", timeout=30_000)
    page.get_by_test_id("last-run-link").click()
    expect(page.locator(".inspector .status").first).to_have_text("error")
    expect(page.get_by_role("alert")).to_contain_text("failed at step 2")


def test_an_unreachable_api_is_said_so(page: Page, deployment: Deployment) -> None:
    page.route("**/assistants/search", lambda route: route.abort("connectionrefused"))
    page.goto(f"{deployment.base_url}/console")
    expect(page.get_by_role("alert")).to_contain_text("Server unreachable")
    page.unroute("**/assistants/search")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_label("Message")).to_be_visible()


def test_create_rename_and_delete_a_thread(page: Page, deployment: Deployment) -> None:
    base = deployment.base_url
    page.goto(f"{base}/console")
    threads = page.get_by_role("complementary", name="Threads")
    threads.get_by_role("button", name="+ New").click()
    thread_id = _thread_id(page)
    title = f"release notes {thread_id[-6:]}"
    page.once("dialog", lambda dialog: dialog.accept(title))
    threads.get_by_role("button", name="Rename").click()
    expect(threads.get_by_text(title)).to_be_visible()
    assert httpx.get(f"{base}/threads/{thread_id}").json()["metadata"]["title"] == title
    page.once("dialog", lambda dialog: dialog.accept())
    threads.get_by_role("button", name="Delete").click()
    expect(threads.get_by_text(title)).to_have_count(0)
    assert httpx.get(f"{base}/threads/{thread_id}").status_code == 404


# Before the app loads: tee the run stream's body to note when the first token's bytes reach
# the page, and note the frame in which the first answer text is on screen.
FIRST_TOKEN_PROBE = """(() => {
  const realFetch = window.fetch.bind(window);
  const token = /event: messages[^\\n]*\\n(?:[a-z]+:[^\\n]*\\n)*?data: \\[\\{"content":"[^"]/;
  window.fetch = async (...args) => {
    const response = await realFetch(...args);
    const url = String(args[0] instanceof Request ? args[0].url : args[0]);
    if (!url.includes('/runs/stream') || !response.body) return response;
    let seen = '';
    const decoder = new TextDecoder();
    const tee = new TransformStream({
      transform(chunk, controller) {
        if (window.__tokenAt === undefined) {
          seen += decoder.decode(chunk, {stream: true});
          if (token.test(seen)) window.__tokenAt = performance.now();
          seen = seen.slice(-4096);  // an event split across chunks is still matched whole
          window.__streamSeen = seen;
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(tee), response);
  };
  new MutationObserver(() => {
    if (window.__shownAt !== undefined) return;
    const ai = document.querySelector('[data-testid=msg-ai] .text');
    if (ai && ai.textContent) {
      window.__shownAt = -1;
      requestAnimationFrame(() => { window.__shownAt = performance.now(); });
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();"""


def test_first_token_is_on_screen_within_50_ms(page: Page, deployment: Deployment) -> None:
    """The issue's budget, as the median of three runs (one run on a loaded 2-core machine
    can lose a scheduler slice)."""
    page.add_init_script(FIRST_TOKEN_PROBE)
    page.goto(f"{deployment.base_url}/console")
    delays = []
    for _ in range(3):
        page.get_by_role("button", name="New conversation").click()
        expect(page.get_by_test_id("msg-ai")).to_have_count(0)
        page.evaluate("window.__tokenAt = undefined; window.__shownAt = undefined")
        _send(page, "hello")
        page.wait_for_function("() => window.__shownAt > 0", timeout=30_000)
        token_at, shown_at = page.evaluate("[window.__tokenAt, window.__shownAt]")
        assert token_at is not None, page.evaluate("() => window.__streamSeen")
        assert shown_at >= token_at, "text on screen before its token arrived: a stale probe"
        delays.append(shown_at - token_at)
        expect(page.get_by_role("button", name="Send")).to_be_visible(timeout=30_000)
    print(f"first token on screen after its bytes arrived: {[round(d, 1) for d in delays]} ms")
    assert sorted(delays)[1] < 50, f"first token shown late: {delays} ms"
