"""aider (aider-chat) against a live `hearth serve`: one non-interactive run per test, on a small
Python file in a temporary folder, asking for a concrete edit; the test checks the file.

aider is run as its users run it against a local server, on its defaults but for what a
non-interactive run without network needs:
    --message TEXT --yes-always        one request, then exit; accept every edit
    --no-git                           the temporary folder is no repository
    --analytics-disable --no-check-update --no-show-release-notes
                                       no network calls of its own (PostHog, PyPI)
    --no-show-model-warnings           no "unknown context window" prompt
    --no-pretty --no-fancy-input       no terminal
    --chat-history-file, --input-history-file in the temporary folder
HOME is the temporary folder too, so aider's caches (~/.aider) stay out of the user's home.

aider pins its own litellm and openai, so it lives in its own virtualenv: $HEARTH_AIDER is its
`aider` executable (scripts/test-apps installs it; default ~/.cache/hearth-test/venv-aider/bin/aider).

Defaults worth knowing: for an `ollama/` or `ollama_chat/` model aider always sends
options.num_ctx = int(1.25 × the prompt's token count) + 8192, so at least 8192 on every request.
"""

import ast
import os
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from hearth_apps import TOOL_MODEL, AppTestCase

AIDER_TIMEOUT = 1200

SOURCE = '''def foo(a, b):
    return a + b


def multiply(a, b):
    return a * b
'''


def aider_bin():
    return Path(os.environ.get("HEARTH_AIDER", "~/.cache/hearth-test/venv-aider/bin/aider")).expanduser()


class AiderTests(AppTestCase):
    models = (TOOL_MODEL,)

    def run_aider(self, model, message, environment, extra=()):
        """Runs aider once on a fresh calc.py; returns (the file's new text, aider's output)."""
        binary = aider_bin()
        self.assertTrue(os.access(binary, os.X_OK), f"no aider at {binary} (run scripts/test-apps, or set HEARTH_AIDER)")
        folder = Path(tempfile.mkdtemp(prefix="hearth-aider-"))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(folder)]))
        source = folder / "calc.py"
        source.write_text(SOURCE)
        command = [str(binary), "--model", model, "--message", message, "--yes-always", "--no-git",
                   "--analytics-disable", "--no-check-update", "--no-show-release-notes", "--no-show-model-warnings",
                   "--no-pretty", "--no-fancy-input",
                   "--chat-history-file", str(folder / ".aider.chat.history.md"),
                   "--input-history-file", str(folder / ".aider.input.history"),
                   *extra, "calc.py"]
        env = dict(os.environ, HOME=str(folder), **environment)
        for variable in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "OLLAMA_API_BASE"):
            if variable not in environment:
                env.pop(variable, None)
        started = time.monotonic()
        result = subprocess.run(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=AIDER_TIMEOUT)
        output = result.stdout + result.stderr
        print(f"\n[aider {model}: exit {result.returncode} in {time.monotonic() - started:.1f} s]", flush=True)
        if os.environ.get("HEARTH_APPS_VERBOSE") == "1":
            print(output[-6000:], flush=True)
        self.aider_output = output
        return source.read_text(), output

    def check_rename(self, text, output):
        self.assertIn("def add(a, b)", text, f"foo was not renamed to add; calc.py is now:\n{text}\naider said:\n{output[-3000:]}")
        self.assertNotIn("def foo", text, f"foo is still there:\n{text}")
        self.assertIn("def multiply(a, b)", text, f"multiply was lost:\n{text}")
        ast.parse(text)

    def check_docstring(self, text, output):
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            self.fail(f"calc.py no longer parses ({error}):\n{text}\naider said:\n{output[-3000:]}")
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        self.assertIn("multiply", functions, f"multiply was lost:\n{text}\naider said:\n{output[-3000:]}")
        self.assertTrue(ast.get_docstring(functions["multiply"]),
                        f"multiply has no docstring; calc.py is now:\n{text}\naider said:\n{output[-3000:]}")
        self.assertIn("foo", functions, f"foo was lost:\n{text}")

    def test_ollama_chat_rename(self):
        """aider's documented Ollama setup: OLLAMA_API_BASE and an ollama_chat/ model."""
        text, output = self.run_aider(f"ollama_chat/{TOOL_MODEL}", "Rename the function foo to add. Change nothing else.",
                                      {"OLLAMA_API_BASE": self.base})
        if self.recording:
            self.assertTrue(self.requests_to("/api/chat"), f"aider sent no /api/chat request:\n{output[-3000:]}")
        self.check_rename(text, output)
        self.assertNoHTTPErrors()

    def test_openai_compatible_docstring(self):
        """aider's documented OpenAI-compatible setup: OPENAI_API_BASE, OPENAI_API_KEY and an openai/ model."""
        text, output = self.run_aider(f"openai/{TOOL_MODEL}", "Add a one-line docstring to the function multiply.",
                                      {"OPENAI_API_BASE": f"{self.base}/v1", "OPENAI_API_KEY": "x"})
        if self.recording:
            self.assertTrue(self.requests_to("/v1/chat/completions"), f"aider sent no chat request:\n{output[-3000:]}")
        self.check_docstring(text, output)
        self.assertNoHTTPErrors()


if __name__ == "__main__":
    unittest.main()
