"""`hearth serve --ngram` (prompt-lookup speculation in every slot, beside continuous batching)
and `--draft` (a draft model per slot) give the answers a server without them gives, token for
token — greedy, sampled with a seed, streamed, and with two requests decoding together — driven
with the `openai` client; the automatic draft choice follows `hearth bench --draft`'s measurement.
"""

import concurrent.futures
import json
import os
import subprocess
import shutil
import unittest

from openai import OpenAI

from hearth_process import hearth_bin, hearth_home, store_with
from test_ledger import LedgerServer, request

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
        cls.plain = LedgerServer(cls.home, "--no-ledger", "--parallel", "2", "--no-ngram")
        cls.addClassCleanup(cls.plain.stop)
        cls.speculating = LedgerServer(cls.home, "--no-ledger", "--parallel", "2", "--ngram")
        cls.addClassCleanup(cls.speculating.stop)
        cls.clients = [OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0, timeout=600)
                       for server in (cls.plain, cls.speculating)]
        for client in cls.clients:
            cls.addClassCleanup(client.close)

    def test_prompt_lookup_is_on_by_default_and_off_with_no_ngram(self):
        default = LedgerServer(self.home, "--no-ledger", "--parallel", "1")
        self.addCleanup(default.stop)
        client = OpenAI(base_url=f"http://127.0.0.1:{default.port}/v1", api_key="unused", max_retries=0, timeout=600)
        self.addCleanup(client.close)
        answer = client.chat.completions.create(model=MODEL, max_tokens=160, messages=RENAME, temperature=0)
        plain = self.clients[0].chat.completions.create(model=MODEL, max_tokens=160, messages=RENAME, temperature=0)
        self.assertEqual(answer.choices[0].message.content, plain.choices[0].message.content)
        # The rename copies its input: the default server checked proposals, `--no-ngram` none.
        self.assertGreater(metric(default.port, "hearth_speculative_tokens_accepted_total"), 0)
        self.assertEqual(metric(self.plain.port, "hearth_speculative_tokens_proposed_total"), 0)

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


def run_hearth(home, *arguments, timeout=600):
    env = dict(os.environ, HEARTH_HOME=str(home))
    return subprocess.run([str(hearth_bin()), *arguments], env=env, capture_output=True, text=True, timeout=timeout)


def ollama_request(port, method, path, body=None):
    status, _, text = request(port, method, path, body, timeout=600)
    return status, json.loads(text) if text.strip().startswith(("{", "[")) else text


class DraftModelCommandTests(unittest.TestCase):
    """`--draft MODEL` on `hearth run` and `hearth bench`: the model's own answer, proposals from
    a smaller model with the same vocabulary; another vocabulary is refused by name. The runs
    here use a store of their own: `hearth bench --draft` keeps its measurement there."""

    @classmethod
    def setUpClass(cls):
        cls.home = store_with("hearth-draft-run-", "qwen2.5-coder:1.5b", MODEL, "smollm2:135m")
        cls.addClassCleanup(shutil.rmtree, cls.home, True)

    def run_hearth(self, *arguments):
        return run_hearth(self.home, *arguments)

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
        # Kept for the automatic draft choice: the pair, this machine, the two rates.
        records = list(json.loads((self.home / "cache" / "drafts.json").read_text())["records"].values())
        self.assertEqual([(r["model"], r["draft"], r["identical"]) for r in records], [("qwen2.5-coder:1.5b", MODEL, True)])
        self.assertAlmostEqual(records[0]["draftedTokensPerSecond"], report["spec_tg_tps"], places=6)
        self.assertAlmostEqual(records[0]["plainTokensPerSecond"], report["spec_plain_tps"], places=6)

    def test_a_draft_with_another_vocabulary_is_refused(self):
        result = self.run_hearth("run", MODEL, "--draft", "smollm2:135m", "hi")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("vocabulary", result.stderr)
        result = self.run_hearth("run", MODEL, "--draft", MODEL, "--ngram", "hi")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--ngram and --draft", result.stderr)

    def test_bad_draft_flags_are_named(self):
        for arguments, named in ((["bench", MODEL, "--draft", "none"], "--draft"),
                                 (["serve", "--port", "0", "--draft", ""], "--draft"),
                                 (["serve", "--port", "0", "--draft-max", "65"], "--draft-max"),
                                 (["serve", "--port", "0", "--draft-p-min", "1.5"], "--draft-p-min"),
                                 (["serve", "--port", "0", "--ngram", "--draft", MODEL], "--ngram and --draft")):
            with self.subTest(arguments=arguments):
                result = run_hearth(self.home, *arguments, timeout=60)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(named, result.stderr)

    def test_run_with_draft_auto_or_none_answers_without_a_measured_draft(self):
        # No draft was measured in this store's drafts.json for the 0.5b, so auto is plain decoding.
        question = ["--temp", "0", "-n", "12", "Say hello."]
        plain = self.run_hearth("run", MODEL, "--draft", "none", *question)
        automatic = self.run_hearth("run", MODEL, "--draft", "auto", *question)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertEqual(automatic.returncode, 0, automatic.stderr)
        self.assertEqual(automatic.stdout, plain.stdout)
        self.assertNotIn("proposed tokens kept", automatic.stderr)


FIBONACCI = [{"role": "user", "content": "Write a Python function that returns the n-th Fibonacci number."}]
TARGET = "qwen2.5-coder:1.5b"


def metric(port, name):
    text = request(port, "GET", "/metrics")[2]
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


class DraftServerTests(unittest.TestCase):
    """`hearth serve --draft MODEL`: each slot drafts with its own copy of the draft's cache while
    its sequence decodes alone; the answers are a plain server's, token for token (greedy, seeded
    sampling, two at once); `/api/ps` names the draft and `/metrics` counts its proposals. A
    created model's DRAFT overrides the server's; one with another vocabulary is refused."""

    @classmethod
    def setUpClass(cls):
        cls.home = store_with("hearth-draft-serve-", TARGET, MODEL, "smollm2:135m")
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        # Prompt lookup off on both (it is on by default for models without a draft): the plain
        # server proposes nothing, and a model the drafting server gives no draft proposes nothing.
        cls.plain = LedgerServer(cls.home, "--no-ledger", "--parallel", "2", "--draft", "none", "--no-ngram")
        cls.addClassCleanup(cls.plain.stop)
        cls.drafting = LedgerServer(cls.home, "--no-ledger", "--parallel", "2", "--draft", MODEL, "--draft-max", "8", "--no-ngram")
        cls.addClassCleanup(cls.drafting.stop)
        cls.clients = [OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0, timeout=600)
                       for server in (cls.plain, cls.drafting)]
        for client in cls.clients:
            cls.addClassCleanup(client.close)

    def answer(self, client, model=TARGET, messages=FIBONACCI, **sampling):
        return client.chat.completions.create(model=model, max_tokens=64, messages=messages, **sampling).choices[0].message.content

    def test_answers_are_the_plain_servers(self):
        for sampling in ({"temperature": 0}, {"temperature": 0.8, "seed": 5}):
            with self.subTest(sampling=sampling):
                self.assertEqual(self.answer(self.clients[1], **sampling), self.answer(self.clients[0], **sampling))
        self.assertGreater(metric(self.drafting.port, "hearth_speculative_tokens_accepted_total"), 0)
        self.assertEqual(metric(self.plain.port, "hearth_speculative_tokens_proposed_total"), 0)
        drafts = {entry["model"]: entry.get("draft") for entry in ollama_request(self.drafting.port, "GET", "/api/ps")[1]["models"]}
        self.assertEqual(drafts[TARGET], MODEL)
        self.assertIn(f"{MODEL} drafts for {TARGET}", self.drafting.stderr())
        # Two at once: the slots decode together, the answers are still the plain ones.
        other = [{"role": "user", "content": "Write a haiku about rivers."}]
        expected = [self.answer(self.clients[0], messages=m, temperature=0) for m in (FIBONACCI, other)]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda m: self.answer(self.clients[1], messages=m, temperature=0), (FIBONACCI, other)))
        self.assertEqual(answers, expected)

    def test_a_created_models_draft_overrides_the_servers(self):
        status, reply = ollama_request(self.drafting.port, "POST", "/api/create",
                                       {"model": "coder-nodraft", "from": TARGET, "draft": "none", "stream": False})
        self.assertEqual(status, 200, reply)
        self.assertIn("DRAFT none", ollama_request(self.drafting.port, "POST", "/api/show", {"model": "coder-nodraft"})[1]["modelfile"])
        before = metric(self.drafting.port, "hearth_speculative_tokens_proposed_total")
        self.assertEqual(self.answer(self.clients[1], model="coder-nodraft", temperature=0), self.answer(self.clients[0], temperature=0))
        self.assertEqual(metric(self.drafting.port, "hearth_speculative_tokens_proposed_total"), before)
        drafts = {entry["model"]: entry.get("draft") for entry in ollama_request(self.drafting.port, "GET", "/api/ps")[1]["models"]}
        self.assertIn("coder-nodraft:latest", drafts)
        self.assertIsNone(drafts["coder-nodraft:latest"])
        # DRAFT auto (the server's automatic choice) is accepted as is.
        status, reply = ollama_request(self.drafting.port, "POST", "/api/create",
                                       {"model": "coder-auto", "from": TARGET, "draft": "auto", "stream": False})
        self.assertEqual(status, 200, reply)
        # Another vocabulary, or a model that is not installed, is refused when the model is created.
        for draft, words in (("smollm2:135m", "vocabulary"), ("nosuch:1b", "not installed")):
            status, reply = ollama_request(self.drafting.port, "POST", "/api/create",
                                           {"model": "coder-bad", "from": TARGET, "draft": draft, "stream": False})
            self.assertEqual(status, 400, reply)
            self.assertIn(words, json.dumps(reply))
        self.assertNotEqual(run_hearth(self.home, "show", "coder-bad", timeout=60).returncode, 0)


class AutomaticDraftTests(unittest.TestCase):
    """Without `--draft`, `hearth serve` drafts only with a draft `hearth bench MODEL --draft DRAFT`
    measured to pay on this machine (≥ 1.1×). The bench runs for real; whether it paid here is
    what the server must act on. A second record, as a machine where the draft pays would have
    written it, must then turn the draft on."""

    def test_the_measurement_decides(self):
        home = store_with("hearth-draft-auto-", TARGET, MODEL)
        self.addCleanup(shutil.rmtree, home, True)
        bench = run_hearth(home, "bench", TARGET, "--pp", "0", "--tg", "48", "--reps", "1", "--draft", MODEL, "--json")
        self.assertEqual(bench.returncode, 0, bench.stderr)
        report = json.loads(bench.stdout)
        speedup = report["spec_tg_tps"] / report["spec_plain_tps"]

        def served_draft():
            server = LedgerServer(home, "--no-ledger", "--parallel", "1")
            try:
                client = OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0, timeout=600)
                client.chat.completions.create(model=TARGET, max_tokens=4, messages=FIBONACCI, temperature=0)
                client.close()
                entry = next(e for e in ollama_request(server.port, "GET", "/api/ps")[1]["models"] if e["model"] == TARGET)
                return entry.get("draft"), server.stderr()
            finally:
                server.stop()

        draft, log = served_draft()
        if speedup >= 1.1:
            self.assertEqual(draft, MODEL, log)
            self.assertIn("measured", log)
        else:
            self.assertIsNone(draft, log)
            self.assertIn(f"{speedup:.2f}×", log)
        # The same pair measured faster (as on a machine where it pays): now the draft is used.
        path = home / "cache" / "drafts.json"
        contents = json.loads(path.read_text())
        for record in contents["records"].values():
            record["draftedTokensPerSecond"] = record["plainTokensPerSecond"] * 1.5
        path.write_text(json.dumps(contents))
        draft, log = served_draft()
        self.assertEqual(draft, MODEL, log)
        self.assertIn("measured 1.50× here", log)


if __name__ == "__main__":
    unittest.main()
