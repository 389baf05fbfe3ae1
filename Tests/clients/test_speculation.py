"""`hearth serve --ngram` (prompt-lookup speculation in every slot, beside continuous batching)
gives the answers a server without it gives, token for token — greedy, sampled with a seed,
streamed, and with two requests decoding together — driven with the `openai` client.
"""

import concurrent.futures
import json
import os
import subprocess
import shutil
import unittest

from openai import OpenAI

from hearth_process import hearth_bin, hearth_home, store_with
from test_ledger import LedgerServer

MODEL = "qwen2.5-coder:0.5b"
CODE = """def area(width, height):
    return width * height


def total_area(rooms):
    return sum(area(room.width, room.height) for room in rooms)


def describe(rooms):
    for room in rooms:
        print(f"{room.name}: {area(room.width, room.height)} square metres")
"""
RENAME = [{"role": "user", "content": "Rename the function `area` to `surface` everywhere. Reply with the whole code only.\n\n"
           f"```python\n{CODE}```"}]
OTHER = [{"role": "user", "content": "Add a docstring to each function. Reply with the whole code only.\n\n"
          f"```python\n{CODE}```"}]


class SpeculationServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = store_with("hearth-ngram-", MODEL)
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.plain = LedgerServer(cls.home, "--no-ledger", "--parallel", "2")
        cls.addClassCleanup(cls.plain.stop)
        cls.speculating = LedgerServer(cls.home, "--no-ledger", "--parallel", "2", "--ngram")
        cls.addClassCleanup(cls.speculating.stop)
        cls.clients = [OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0, timeout=600)
                       for server in (cls.plain, cls.speculating)]
        for client in cls.clients:
            cls.addClassCleanup(client.close)

    def both(self, **request):
        return [client.chat.completions.create(model=MODEL, max_tokens=160, **request) for client in self.clients]

    def test_greedy_and_sampled_answers_are_the_same(self):
        for sampling in ({"temperature": 0}, {"temperature": 0.8, "seed": 11}):
            with self.subTest(sampling=sampling):
                plain, speculative = self.both(messages=RENAME, **sampling)
                self.assertEqual(speculative.choices[0].message.content, plain.choices[0].message.content)
                self.assertEqual(speculative.usage.completion_tokens, plain.usage.completion_tokens)
                self.assertEqual(speculative.choices[0].finish_reason, plain.choices[0].finish_reason)
        self.assertIn("surface", plain.choices[0].message.content)

    def test_streamed_and_concurrent_answers_are_the_same(self):
        plain, _ = self.both(messages=RENAME, temperature=0)
        stream = self.clients[1].chat.completions.create(model=MODEL, max_tokens=160, messages=RENAME, temperature=0, stream=True)
        self.assertEqual("".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices),
                         plain.choices[0].message.content)
        # Two requests decoding together, each with its own proposals, in one pass per step.
        expected = [self.clients[0].chat.completions.create(model=MODEL, max_tokens=160, messages=messages, temperature=0)
                    .choices[0].message.content for messages in (RENAME, OTHER)]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda messages: self.clients[1].chat.completions.create(
                model=MODEL, max_tokens=160, messages=messages, temperature=0).choices[0].message.content, (RENAME, OTHER)))
        self.assertEqual(answers, expected)


class DraftModelCommandTests(unittest.TestCase):
    """`--draft MODEL` on `hearth run` and `hearth bench`: the model's own answer, proposals from
    a smaller model with the same vocabulary; another vocabulary is refused by name."""

    def run_hearth(self, *arguments):
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        return subprocess.run([str(hearth_bin()), *arguments], env=env, capture_output=True, text=True, timeout=600)

    def test_run_with_a_draft_answers_as_without(self):
        question = ["--temp", "0", "-n", "40", "Write a Python function that checks whether a number is prime."]
        plain = self.run_hearth("run", "qwen2.5-coder:1.5b", *question)
        drafted = self.run_hearth("run", "qwen2.5-coder:1.5b", "--draft", MODEL, *question)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertEqual(drafted.returncode, 0, drafted.stderr)
        self.assertEqual(drafted.stdout, plain.stdout)
        self.assertIn("proposed tokens kept", drafted.stderr)

    def test_bench_with_a_draft_reports_both_and_identical(self):
        result = self.run_hearth("bench", "qwen2.5-coder:1.5b", "--pp", "0", "--tg", "32", "--reps", "1", "--draft", MODEL,
                                 "--draft-max", "4", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertTrue(report["identical"])
        self.assertGreater(report["spec_tg_tps"], 0)
        self.assertGreater(report["acceptance"], 0)

    def test_a_draft_with_another_vocabulary_is_refused(self):
        result = self.run_hearth("run", MODEL, "--draft", "smollm2:135m", "hi")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("vocabulary", result.stderr)
        result = self.run_hearth("run", MODEL, "--draft", MODEL, "--ngram", "hi")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--ngram and --draft", result.stderr)


if __name__ == "__main__":
    unittest.main()
