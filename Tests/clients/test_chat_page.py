"""The chat page (`/chat` on `hearth serve`) in a real headless browser: Debian's `chromium` and
`chromium-driver`, driven by Selenium (pinned in requirements.txt; scripts/test-clients installs
all three). Without a browser the tests are skipped with the reason, never passed.

Each class runs a server on a store of its own (a temporary HEARTH_HOME with smollm2:135m and
gemma3:270m hard linked from the test store), so the shared ledger stays untouched and the page's
usage view shows only this test's answers.

Screenshots (desktop 1280×900, phone 390×844, light and dark) are saved to
`$HEARTH_ARTIFACTS/chat-page/` (default `.build/test-artifacts/chat-page/`).
"""

import json
import os
import re
import shutil
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

from hearth_process import REPO, hearth_home
from test_clients import request
from test_ledger import LedgerServer

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # reported as the reason for skipping
    webdriver = None

MODEL = "smollm2:135m"
SECOND_MODEL = "gemma3:270m"
ARTIFACTS = Path(os.environ.get("HEARTH_ARTIFACTS", REPO / ".build" / "test-artifacts")) / "chat-page"
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def browser_problem():
    """Why no browser can run here, or None."""
    if webdriver is None:
        return "selenium is not installed (pip install -r Tests/clients/requirements.txt)"
    for name in ("chromium", "chromedriver"):
        if shutil.which(name) is None:
            return f"{name} is not installed (apt-get install chromium chromium-driver)"
    return None


def make_store(models):
    """A temporary HEARTH_HOME holding `models` (hard links into the test store)."""
    home = Path(tempfile.mkdtemp(prefix="hearth-chat-page-"))
    for folder, suffix in (("models", ".gguf"), ("manifests", ".json")):
        (home / folder).mkdir()
        for model in models:
            source = hearth_home() / folder / f"{model}{suffix}"
            if not source.exists():
                raise AssertionError(f"{source} is missing (scripts/test pulls {model} into the test store)")
            try:
                os.link(source, home / folder / source.name)
            except OSError:
                shutil.copyfile(source, home / folder / source.name)
    return home


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--force-color-profile=srgb", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    return driver


class BrowserCase(unittest.TestCase):
    """A server on its own store and one browser for the whole class."""

    server_arguments = ()
    store_models = (MODEL, SECOND_MODEL)

    @classmethod
    def setUpClass(cls):
        problem = browser_problem()
        if problem:
            raise unittest.SkipTest(problem)
        cls.home = make_store(cls.store_models)
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.server = LedgerServer(cls.home, *cls.server_arguments)
        cls.addClassCleanup(cls.server.stop)
        cls.base = f"http://127.0.0.1:{cls.server.port}"
        cls.driver = start_browser()
        cls.addClassCleanup(cls.driver.quit)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def find(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def wait(self, condition, seconds=60, message=""):
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.05).until(lambda _: condition())
        except TimeoutException:
            raise AssertionError(f"timed out after {seconds} s: {message}\nserver stderr:\n{self.server.stderr()}") from None

    def busy(self):
        return self.js("return document.body.dataset.busy") == "true"

    def last_answer(self):
        return self.js("const m = document.querySelectorAll('.msg.assistant'); return m.length ? m[m.length - 1].querySelector('.content').textContent : null")

    def last_stats(self):
        return self.js("const m = document.querySelectorAll('.msg.assistant .stats'); const s = m[m.length - 1];"
                       "return s ? {text: s.textContent, model: s.dataset.model} : null")

    def set_setting(self, element_id, value):
        """Sets a settings field as a person would, firing its change event."""
        self.js("const e = document.getElementById(arguments[0]); e.value = arguments[1];"
                "e.dispatchEvent(new Event('change')); e.dispatchEvent(new Event('input'));", element_id, str(value))

    def type_and_send(self, text):
        box = self.find("#input")
        box.clear()
        box.send_keys(text)
        self.js("document.getElementById('input').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}))")
        self.wait(self.busy, 10, "the page did not start answering")

    def screenshot(self, name, width=1280, height=900, mobile=False):
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        time.sleep(0.3)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.assertGreater(path.stat().st_size, 5000, f"{path} looks empty")
        return path


class ChatPageTests(BrowserCase):
    """One conversation, step by step (the methods run in name order and share the browser)."""

    def test_1_root_probe_and_page_headers(self):
        # Ollama's clients (no Accept, or */*) still get the probe text; a browser is sent to the page.
        for accept in (None, "*/*", "application/json", "text/plain, */*"):
            status, headers, body = request(self.server.port, "GET", "/", headers={"Accept": accept} if accept else {})
            self.assertEqual((status, body), (200, "Ollama is running (Hearth 0.1.0)"), accept)
        status, headers, _ = request(self.server.port, "GET", "/",
                                     headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
        self.assertEqual((status, headers["Location"]), (302, "/chat"))
        self.assertEqual(request(self.server.port, "HEAD", "/")[0], 200)
        status, headers, page = request(self.server.port, "GET", "/chat")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        policy = headers["Content-Security-Policy"]
        self.assertIn("script-src 'self'", policy)
        self.assertNotIn("unsafe-inline", policy)
        self.assertNotIn("unsafe-eval", policy)
        # Every script is a file of the page's own; no inline script, nothing from another host.
        scripts = re.findall(r"<script([^>]*)>", page)
        self.assertTrue(scripts)
        for attributes in scripts:
            self.assertRegex(attributes, r'src="/chat/[a-z]+\.js"')
        self.assertNotRegex(page, r"https?://")

    def test_2_streams_an_answer_with_its_stats(self):
        self.driver.get(self.base + "/")  # a browser's visit to the root lands on the page
        self.wait(lambda: self.driver.current_url.endswith("/chat"), 10, "GET / did not send the browser to /chat")
        self.wait(lambda: len(Select(self.find("#model")).options) >= 3, 20, "the model picker was not filled")
        picker = Select(self.find("#model"))
        self.assertEqual([o.get_attribute("value") for o in picker.options], [SECOND_MODEL, MODEL, "auto"])
        picker.select_by_value(MODEL)
        catalog = [o.get_attribute("value") for o in Select(self.find("#catalog")).options]
        self.assertIn("qwen2.5-coder:0.5b", catalog, "the catalog lists models that are not installed")
        self.assertNotIn(MODEL, catalog)
        self.set_setting("num-predict", 160)
        self.set_setting("temperature", 0)

        self.type_and_send("Write a short poem about the sea.")
        lengths = []
        while self.busy():
            length = len(self.last_answer() or "")
            if not lengths or length != lengths[-1]:
                lengths.append(length)
            time.sleep(0.02)
        growing = [n for n in lengths if n > 0]
        self.assertGreaterEqual(len(growing), 3, f"the answer did not stream in (lengths seen: {lengths})")
        self.assertEqual(growing, sorted(growing))
        answer = self.last_answer()
        self.assertGreater(len(answer.strip()), 20)
        stats = self.last_stats()
        self.assertEqual(stats["model"], MODEL)
        for part in ("tokens/s", "first token in", "tokens", "saved $", "vs gpt-4.1-nano"):
            self.assertIn(part, stats["text"])
        # The usage view reads the ledger of this server: one request so far.
        self.wait(lambda: "1 request," in self.find("#usage-body").text, 10, "the usage view did not show the answer")
        self.screenshot("desktop-answer")

    def test_3_stop_ends_a_long_answer(self):
        self.set_setting("num-predict", 3000)
        self.type_and_send("Write a very long story, at least 3000 words, about a dragon who learns to bake bread.")
        self.wait(lambda: len(self.last_answer() or "") > 40, 60, "the long answer did not start")
        self.screenshot("desktop-streaming")
        started = time.monotonic()
        self.find("#stop").click()
        self.wait(lambda: not self.busy(), 5, "the page was still busy after Stop")
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(self.find("#stop").get_attribute("hidden") is not None and self.find("#send").is_displayed())
        stopped_at = self.last_answer()
        stats = self.last_stats()["text"]
        self.assertIn("stopped", stats)
        counted = re.search(r"~(\d+) tokens(?!/)", stats)
        self.assertIsNotNone(counted, stats)
        tokens = int(counted.group(1))
        self.assertLess(tokens, 1000, "the answer ran on long after Stop")
        # The server stopped generating too: its slots are idle and the text no longer grows.
        deadline = time.monotonic() + 5
        while True:
            metrics = request(self.server.port, "GET", "/metrics")[2]
            busy = sum(float(v) for v in re.findall(r"^hearth_busy_slots\{[^}]*\} (\S+)$", metrics, re.M))
            if busy == 0:
                break
            self.assertLess(time.monotonic(), deadline, f"the server is still generating after Stop:\n{metrics}")
            time.sleep(0.1)
        time.sleep(1)
        self.assertEqual(self.last_answer(), stopped_at)

    def test_4_switching_models(self):
        self.set_setting("num-predict", 48)
        Select(self.find("#model")).select_by_value(SECOND_MODEL)
        self.type_and_send("Say hello in one short sentence.")
        self.wait(lambda: not self.busy(), 120, "the second model did not finish")
        stats = self.last_stats()
        self.assertEqual(stats["model"], SECOND_MODEL, stats["text"])
        self.assertIn(SECOND_MODEL, stats["text"])
        self.assertTrue(self.last_answer().strip())
        models = self.js("return [...document.querySelectorAll('.msg.assistant .stats')].map(s => s.dataset.model)")
        self.assertEqual(models, [MODEL, MODEL, SECOND_MODEL])

    def test_5_reload_finds_the_conversation(self):
        self.driver.get(self.base + "/chat")  # a fresh page load: only the browser's storage remains
        self.wait(lambda: self.find("#conversations li"), 10, "no conversation in the list after reload")
        self.js("document.getElementById('new-chat').click()")
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, ".msg"))
        entry = self.find("#conversations li .open")
        self.assertEqual(entry.text, "Write a short poem about the sea.")
        entry.click()
        roles = self.js("return [...document.querySelectorAll('#messages .msg')].map(m => m.classList[1])")
        self.assertEqual(roles, ["user", "assistant"] * 3)
        self.assertEqual(self.find(".msg.user .bubble").text, "Write a short poem about the sea.")
        self.assertIn("stopped", self.js("return document.querySelectorAll('.msg.assistant .stats')[1].textContent"))
        self.wait(lambda: Select(self.find("#model")).first_selected_option.get_attribute("value") == SECOND_MODEL, 10,
                  "the model picked before the reload was not kept")

    def assert_shown_as_text(self, scope):
        """No element came from the text, nothing ran, and the characters are on screen."""
        elements = self.js(f"return [...document.querySelectorAll('{scope} script, {scope} img, {scope} iframe, "
                           f"{scope} [onerror], {scope} a[href^=\"javascript\"]')].map(e => e.outerHTML)")
        self.assertEqual(elements, [], "model text became markup")
        self.assertIsNone(self.js("return window.pwned === undefined ? null : window.pwned"), "model text ran as script")

    def test_6_model_html_is_shown_as_text(self):
        # A stored answer holding markup, in the page's own storage format. Rendered with innerHTML
        # it would put an <img> (and a <script>) in the page: the check below fails on that even
        # though the page's Content-Security-Policy would still stop the handler from running.
        stored = {
            "id": "hostile", "title": "Hostile answer", "created": 1, "updated": 2 ** 52, "messages": [
                {"role": "user", "content": "Show me some HTML"},
                {"role": "assistant", "content": f"Here: {HOSTILE} and **bold**\n\n```html\n{HOSTILE}\n```\n\n"
                                                 f"[click](javascript:window.pwned=3) <b onmouseover=alert(1)>b</b>",
                 "stats": {"model": MODEL, "requested": MODEL}},
                {"role": "user", "content": "And 2 + 2?"},
                {"role": "assistant", "content": "<think>Two and two make four.</think>It is **4**.\n\n"
                                                 "```python\ndef add(a, b):\n    return a + b  # 'four'\n\nprint(add(2, 2))\n```"},
            ]}
        self.js("const list = JSON.parse(localStorage.getItem('hearth-chat:conversations'));"
                "list.unshift(arguments[0]); localStorage.setItem('hearth-chat:conversations', JSON.stringify(list));", stored)
        self.driver.refresh()
        self.wait(lambda: self.find('#conversations li[data-id="hostile"] .open'), 10, "the stored conversation is not listed")
        self.find('#conversations li[data-id="hostile"] .open').click()
        # A reasoning model's thinking is folded away above its answer.
        thinking = self.find(".msg.assistant:last-child details.thinking")
        self.assertIsNone(thinking.get_attribute("open"))
        self.assertEqual(self.find(".msg.assistant:last-child .think-body").get_attribute("textContent"), "Two and two make four.")
        self.assertEqual(self.js("return document.querySelector('.msg.assistant:last-child .content > p').textContent"), "It is 4.")
        self.assert_shown_as_text("#messages")
        text = self.js("return document.querySelector('.msg.assistant .content').textContent")
        self.assertIn(HOSTILE, text)
        self.assertIn("<b onmouseover=alert(1)>b</b>", text)
        self.assertEqual(self.js("return document.querySelector('.msg.assistant .content strong').textContent"), "bold")
        self.assertIn(HOSTILE, self.js("return document.querySelector('.msg.assistant .code-block code').textContent"))
        self.assert_shown_as_text("#messages")
        self.assertEqual(self.js("return [...document.querySelectorAll('.msg.assistant:last-child code span')].map(s => s.className + ':' + s.textContent).slice(0, 3)"),
                         ["tok-keyword:def", "tok-function:add", "tok-keyword:return"])
        self.screenshot("desktop-stored-markup")

        # And a real answer: the model is asked to repeat the markup.
        Select(self.find("#model")).select_by_value(MODEL)
        self.js("document.getElementById('new-chat').click()")
        self.set_setting("num-predict", 80)
        self.type_and_send(f"Repeat exactly, character for character: {HOSTILE}")
        self.wait(lambda: not self.busy(), 60, "the answer did not finish")
        self.assertIn(HOSTILE, self.find(".msg.user .bubble").text)
        print(f"\n  the model answered: {self.last_answer()[:200]!r}")
        self.assert_shown_as_text("#messages")
        self.screenshot("desktop-html-as-text")

    def test_7_the_router_says_which_model_and_why(self):
        self.set_setting("num-predict", 8)
        self.js("document.getElementById('new-chat').click()")
        Select(self.find("#model")).select_by_value("auto")
        self.type_and_send("Say hi.")
        self.wait(lambda: not self.busy(), 120, "the router's answer did not finish")
        stats = self.last_stats()
        self.assertIn(stats["model"], (MODEL, SECOND_MODEL))
        self.assertIn("auto → " + stats["model"], stats["text"])
        self.assertIn("router: ", stats["text"])
        self.assertIn(stats["model"], self.find(".msg.assistant .stat-router").text)

    def test_7b_an_answer_streams_on_while_another_conversation_is_open(self):
        self.set_setting("num-predict", 3000)
        Select(self.find("#model")).select_by_value(MODEL)
        self.js("document.getElementById('new-chat').click()")
        self.type_and_send("Write a very long story about a lighthouse keeper.")
        self.wait(lambda: len(self.last_answer() or "") > 20, 60, "the answer did not start")
        story = self.find("#conversations li.active").get_attribute("data-id")
        self.find("#conversations li:last-child .open").click()  # the poem, while the story streams
        self.assertEqual(self.find(".msg.user .bubble").text, "Write a short poem about the sea.")
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, ".msg.streaming"), "the other conversation looks busy")
        self.find(f'#conversations li[data-id="{story}"] .open').click()  # back to the story
        self.assertTrue(self.busy())
        before = len(self.last_answer())
        self.wait(lambda: len(self.last_answer()) > before + 20, 30, "the answer stopped showing after coming back")
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, ".msg.assistant.streaming .content.cursor"))
        self.find("#stop").click()
        self.wait(lambda: not self.busy(), 5, "the page was still busy after Stop")

    def test_8_regenerate_edit_rename_export_delete(self):
        self.set_setting("num-predict", 16)
        Select(self.find("#model")).select_by_value(MODEL)
        self.js("document.getElementById('new-chat').click()")
        self.type_and_send("Name a color.")
        self.wait(lambda: not self.busy(), 60, "no answer")
        answered = json.loads(request(self.server.port, "GET", "/api/usage")[2])["requests"]
        self.driver.find_element(By.XPATH, "//div[contains(@class,'assistant')]//button[text()='Regenerate']").click()
        self.wait(lambda: not self.busy(), 60, "the regenerated answer did not finish")
        self.assertEqual(self.js("return document.querySelectorAll('#messages .msg').length"), 2, "regenerating replaces the answer")
        self.assertEqual(json.loads(request(self.server.port, "GET", "/api/usage")[2])["requests"], answered + 1,
                         "regenerating asks the model again")

        self.driver.find_element(By.XPATH, "//div[contains(@class,'user')]//button[text()='Edit']").click()
        editor = self.find(".edit-box textarea")
        editor.clear()
        editor.send_keys("Name a fruit.")
        self.driver.find_element(By.XPATH, "//div[@class='edit-box']//button[text()='Send']").click()
        self.wait(lambda: not self.busy(), 60, "the edited question was not answered")
        self.assertEqual(self.js("return [...document.querySelectorAll('#messages .msg')].map(m => m.classList[1])"), ["user", "assistant"])
        self.assertEqual(self.find(".msg.user .bubble").text, "Name a fruit.")

        self.find("#conversations li.active .rename").click()
        name = self.find("#conversations li input")
        name.send_keys(Keys.CONTROL, "a")
        name.send_keys("Fruit chat", Keys.ENTER)
        self.assertEqual(self.find("#conversations li.active .open").text, "Fruit chat")

        # Export: every conversation in one JSON file (saved with the screenshots).
        for old in ARTIFACTS.glob("hearth-conversations-*.json"):
            old.unlink()
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(ARTIFACTS)})
        self.find("#export").click()
        self.wait(lambda: list(ARTIFACTS.glob("hearth-conversations-*.json")), 10, "no export was downloaded")
        time.sleep(0.3)
        exported = json.loads(next(ARTIFACTS.glob("hearth-conversations-*.json")).read_text())
        titles = [c["title"] for c in exported["conversations"]]
        self.assertIn("Fruit chat", titles)
        self.assertIn("Write a short poem about the sea.", titles)

        self.driver.refresh()
        self.wait(lambda: self.find("#conversations li.active .open").text == "Fruit chat", 10, "the new name was not kept")
        count = len(self.driver.find_elements(By.CSS_SELECTOR, "#conversations li"))
        self.find("#conversations li.active .delete").click()
        self.driver.switch_to.alert.accept()
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#conversations li")), count - 1)
        self.assertNotIn("Fruit chat", self.find("#conversations").text)
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "#messages .msg"))

    def test_9_phone_layout_and_dark_theme(self):
        self.find("#conversations li:last-child .open").click()  # the first conversation (oldest)
        self.screenshot("phone-conversation", 390, 844, mobile=True)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        try:
            # On a phone the list is folded away and the composer fits the width.
            self.wait(lambda: self.js("return document.getElementById('sidebar').getBoundingClientRect().right") <= 0, 5,
                      "the conversation list is not folded away on a phone")
            self.assertLessEqual(self.js("return document.getElementById('composer').getBoundingClientRect().right"), 390)
            self.assertLessEqual(self.js("return document.documentElement.scrollWidth"), 390)
            self.find("#open-sidebar").click()
            time.sleep(0.4)
            self.assertGreater(self.js("return document.getElementById('sidebar').getBoundingClientRect().right"), 200)
            self.driver.save_screenshot(str(ARTIFACTS / "phone-conversation-list.png"))
            self.find("#close-sidebar").click()
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.find("#theme").click()  # system → light
        self.find("#theme").click()  # light → dark
        self.assertEqual(self.js("return document.documentElement.dataset.theme"), "dark")
        self.find("#settings-toggle").click()
        self.screenshot("desktop-dark-settings")
        self.screenshot("phone-dark", 390, 844, mobile=True)
        self.find("#theme").click()  # back to the system's


class ChatPageAPIKeyTests(BrowserCase):
    """With `--api-key`: the page loads without the key, asks for it, refuses a wrong one clearly,
    and with the right one works; the API itself still needs the key. The store starts without
    smollm2:135m, which the page pulls from the catalog (`hearth pull`'s sources: pip)."""

    server_arguments = ("--api-key", "page-test-key")
    store_models = (SECOND_MODEL,)

    def test_the_page_asks_for_the_key(self):
        self.assertEqual(request(self.server.port, "GET", "/chat")[0], 200)
        self.assertEqual(request(self.server.port, "GET", "/chat/app.js")[0], 200)
        self.assertEqual(request(self.server.port, "GET", "/api/tags")[0], 401)
        self.assertEqual(request(self.server.port, "GET", "/")[0], 401, "the Ollama probe needs the key, as before")

        self.driver.get(self.base + "/chat")
        self.wait(lambda: self.js("return document.getElementById('key-dialog').open"), 10, "the page did not ask for the key")
        self.find("#key").send_keys("wrong-key")
        self.find("#key-save").click()
        self.wait(lambda: self.find("#key-error").is_displayed(), 10, "no error for a wrong key")
        self.assertIn("Wrong key", self.find("#key-error").text)
        self.assertTrue(self.js("return document.getElementById('key-dialog').open"))
        self.screenshot("desktop-api-key-refused")

        self.find("#key").clear()
        self.find("#key").send_keys("page-test-key")
        self.find("#key-save").click()
        self.wait(lambda: not self.js("return document.getElementById('key-dialog').open"), 10, "the right key was not accepted")
        self.wait(lambda: len(Select(self.find("#model")).options) == 2, 10, "no models after the key was accepted")

        # Pull a catalog model with the progress bar, then answer with it.
        self.find("#settings-toggle").click()
        Select(self.find("#catalog")).select_by_value(MODEL)
        self.find("#pull").click()
        self.screenshot("desktop-pulling")
        shown, statuses = False, []
        deadline = time.monotonic() + 600
        while "is installed" not in (statuses or [""])[-1] and "failed" not in (statuses or [""])[-1]:
            self.assertLess(time.monotonic(), deadline, f"the pull did not finish: {statuses}")
            shown = shown or self.find("#pull-progress").is_displayed()
            status = self.find("#pull-status").text
            if not statuses or statuses[-1] != status:
                statuses.append(status)
            time.sleep(0.02)
        print(f"\n  pull statuses: {statuses}")
        self.assertEqual(statuses[-1], f"{MODEL} is installed")
        self.assertTrue(shown, "no progress bar during the pull")
        self.assertFalse(self.find("#pull-progress").is_displayed())
        self.assertEqual(Select(self.find("#model")).first_selected_option.get_attribute("value"), MODEL)
        self.assertNotIn(MODEL, [o.get_attribute("value") for o in Select(self.find("#catalog")).options])
        self.find("#settings-toggle").click()
        self.set_setting("num-predict", 24)
        self.type_and_send("Hello!")
        self.wait(lambda: not self.busy(), 60, "no answer with the key")
        self.assertTrue(self.last_answer().strip())
        self.assertEqual(self.last_stats()["model"], MODEL)
        self.assertEqual(self.js("return localStorage.getItem('hearth-chat:api-key')"), json.dumps("page-test-key"))


if __name__ == "__main__":
    unittest.main()
