"""`model: "auto"` (the router) against a live `hearth serve` on a store of its own holding two
catalog models, with the policy file (HEARTH_HOME/router.json) set per test: the answer comes from
the first tier when its answer is confident enough, from the next when not, says which model
answered (response `model`, X-Hearth-Model, X-Hearth-Router) and is the same text that model gives
when asked directly. Every tier's answer is in the ledger with the router's decision.
"""

import json
import os
import shutil
import sqlite3
import tempfile
import unittest
from pathlib import Path

import ollama
from openai import OpenAI

from hearth_process import hearth_home
from test_clients import request
from test_ledger import LedgerServer

SMALL, LARGE = "smollm2:135m", "qwen2.5-coder:0.5b"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


class RouterTests(unittest.TestCase):
    def setUp(self):
        self.home = Path(tempfile.mkdtemp(prefix="hearth-router-"))
        self.addCleanup(shutil.rmtree, self.home, True)
        (self.home / "models").mkdir()
        for model in (SMALL, LARGE):
            source, target = hearth_home() / "models" / f"{model}.gguf", self.home / "models" / f"{model}.gguf"
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)

    def serve(self, threshold, tiers=(SMALL, LARGE), **policy):
        (self.home / "router.json").write_text(json.dumps({"tiers": list(tiers), "min_mean_logprob": threshold, **policy}))
        server = LedgerServer(self.home)
        self.addCleanup(server.stop)
        self.openai = OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0)
        self.addCleanup(self.openai.close)
        return server

    def direct(self, model):
        return self.openai.chat.completions.create(model=model, messages=QUESTION, max_tokens=24, temperature=0)

    def routed(self):
        raw = self.openai.chat.completions.with_raw_response.create(model="auto", messages=QUESTION, max_tokens=24, temperature=0)
        return raw.parse(), raw.headers

    def decisions(self):
        with sqlite3.connect(self.home / "ledger.sqlite") as database:
            return database.execute("SELECT model, decision FROM requests ORDER BY id").fetchall()

    def remote_server(self):
        """A second `hearth serve` (its own store holding LARGE, an API key) as the OpenAI-compatible
        remote tier: what a cloud endpoint is to the router."""
        home = Path(tempfile.mkdtemp(prefix="hearth-remote-"))
        self.addCleanup(shutil.rmtree, home, True)
        (home / "models").mkdir()
        os.link(self.home / "models" / f"{LARGE}.gguf", home / "models" / f"{LARGE}.gguf")
        key = "remote-test-key"
        os.environ["HEARTH_ROUTER_TEST_KEY"] = key
        self.addCleanup(os.environ.pop, "HEARTH_ROUTER_TEST_KEY", None)
        remote = LedgerServer(home, "--api-key", key)
        self.addCleanup(remote.stop)
        client = OpenAI(base_url=f"http://127.0.0.1:{remote.port}/v1", api_key=key, max_retries=0)
        self.addCleanup(client.close)
        return remote, client

    def test_the_remote_tier_answers_what_every_local_tier_failed(self):
        remote, remote_client = self.remote_server()
        prices = {"as_of": "2026-12-06", "source": "test", "stand_ins": {"*": "gpt-4o-mini"},
                  "models": {"gpt-4o-mini": {"input": 0.15, "output": 0.6}, LARGE: {"input": 1.0, "output": 2.0}}}
        (self.home / "prices.json").write_text(json.dumps(prices))
        server = self.serve(0, tiers=[SMALL], remote={"url": f"http://127.0.0.1:{remote.port}/v1", "model": LARGE,
                                                      "api_key_env": "HEARTH_ROUTER_TEST_KEY"})
        answer, headers = self.routed()
        self.assertEqual(answer.model, LARGE)
        self.assertEqual(headers["x-hearth-model"], LARGE)
        self.assertIn(f"{SMALL}: mean token logprob", headers["x-hearth-router"])
        self.assertIn("the remote tier", headers["x-hearth-router"])
        direct = remote_client.chat.completions.create(model=LARGE, messages=QUESTION, max_tokens=24, temperature=0)
        self.assertEqual(answer.choices[0].message.content, direct.choices[0].message.content)
        self.assertEqual((answer.usage.prompt_tokens, answer.usage.completion_tokens),
                         (direct.usage.prompt_tokens, direct.usage.completion_tokens))
        with sqlite3.connect(self.home / "ledger.sqlite") as database:
            rows = database.execute("SELECT model, kind, completion_tokens, cloud_cost_usd, paid_usd FROM requests ORDER BY id").fetchall()
        self.assertEqual([(model, kind) for model, kind, *_ in rows], [(SMALL, "generation"), (LARGE, "remote")])
        paid = (direct.usage.prompt_tokens * 1.0 + direct.usage.completion_tokens * 2.0) / 1e6
        self.assertEqual(rows[1][2], direct.usage.completion_tokens)
        self.assertEqual(rows[1][3], 0, "a remote answer saved nothing")
        self.assertAlmostEqual(rows[1][4], paid, places=12)
        usage = json.loads(request(server.port, "GET", "/api/usage")[2])
        self.assertEqual(usage["remote_requests"], 1)
        self.assertAlmostEqual(usage["paid_usd"], paid, places=12)
        # Streamed, and on Ollama's route, the remote's answer arrives the same way.
        stream = self.openai.chat.completions.create(model="auto", messages=QUESTION, max_tokens=24, temperature=0, stream=True)
        chunks = list(stream)
        self.assertEqual({chunk.model for chunk in chunks}, {LARGE})
        self.assertEqual("".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices),
                         direct.choices[0].message.content)
        chat = ollama.Client(host=f"http://127.0.0.1:{server.port}").chat(model="auto", messages=QUESTION,
                                                                          options={"temperature": 0, "num_predict": 24})
        self.assertEqual((chat.model, chat.message.content), (LARGE, direct.choices[0].message.content))

    def test_what_the_remote_cannot_take_or_answer_stays_local(self):
        server = self.serve(0, tiers=[SMALL], remote={"url": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini"})
        # A closed port: the remote fails, and the last local tier's answer is sent.
        answer, headers = self.routed()
        self.assertEqual(answer.model, SMALL)
        self.assertIn("remote tier failed", headers["x-hearth-router"])
        self.assertEqual(answer.choices[0].message.content, self.direct(SMALL).choices[0].message.content)
        # A key the policy names but the environment lacks: the remote is not asked without it.
        (self.home / "router.json").write_text(json.dumps({"tiers": [SMALL], "min_mean_logprob": 0, "remote": {
            "url": "http://127.0.0.1:9/v1", "model": "gpt-4o-mini", "api_key_env": "HEARTH_TEST_NO_SUCH_KEY"}}))
        answer, headers = self.routed()
        self.assertEqual(answer.model, SMALL)
        self.assertIn("HEARTH_TEST_NO_SUCH_KEY", headers["x-hearth-router"])
        # A raw completion is not a chat: the remote is not asked, the last local tier answers live.
        status, response_headers, body = request(server.port, "POST", "/v1/completions",
                                                 {"model": "auto", "prompt": "Paris is", "max_tokens": 4, "temperature": 0})
        self.assertEqual(status, 200, body)
        self.assertIn("remote tier not asked", response_headers["X-Hearth-Router"])
        self.assertEqual(json.loads(body)["model"], SMALL)

    def test_checks_escalate_answers_that_fail_them(self):
        self.serve(-100, checks=["complete"])
        raw = self.openai.chat.completions.with_raw_response.create(model="auto", messages=QUESTION, max_tokens=3, temperature=0)
        self.assertEqual(raw.parse().model, LARGE)
        self.assertIn("complete check failed (cut at the token limit)", raw.headers["x-hearth-router"])
        # An answer that ends (here at a stop string: its first space, which any answer reaches
        # long before 64 tokens whatever the build's rounding makes of its wording) passes.
        raw = self.openai.chat.completions.with_raw_response.create(model="auto", messages=QUESTION, max_tokens=64, temperature=0,
                                                                    stop=[" "])
        self.assertEqual(raw.parse().model, SMALL, raw.headers["x-hearth-router"])
        self.assertIn("passed complete", raw.headers["x-hearth-router"])

    def test_a_confident_answer_stays_on_the_first_tier(self):
        self.serve(-100)
        answer, headers = self.routed()
        self.assertEqual(answer.model, SMALL)
        self.assertEqual(headers["x-hearth-model"], SMALL)
        self.assertIn("mean token logprob", headers["x-hearth-router"])
        self.assertEqual(answer.choices[0].message.content, self.direct(SMALL).choices[0].message.content)
        rows = self.decisions()
        self.assertEqual(rows[0][0], SMALL)
        self.assertTrue(rows[0][1].startswith("auto: "), rows)

    def test_an_unsure_answer_escalates_to_the_next_tier(self):
        server = self.serve(0)  # no real answer has every token at probability 1
        answer, headers = self.routed()
        self.assertEqual(answer.model, LARGE)
        self.assertEqual(headers["x-hearth-model"], LARGE)
        self.assertIn(f"{SMALL}: mean token logprob", headers["x-hearth-router"])
        self.assertIn("the last tier", headers["x-hearth-router"])
        self.assertEqual(answer.choices[0].message.content, self.direct(LARGE).choices[0].message.content)
        rows = self.decisions()
        self.assertEqual([model for model, _ in rows[:2]], [SMALL, LARGE], "both tiers' answers are in the ledger")
        self.assertIn("escalated", rows[0][1])
        # Streaming and the Ollama route take the same path.
        stream = self.openai.chat.completions.create(model="auto", messages=QUESTION, max_tokens=24, temperature=0, stream=True)
        chunks = list(stream)
        self.assertEqual({chunk.model for chunk in chunks}, {LARGE})
        self.assertEqual("".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices),
                         answer.choices[0].message.content)
        client = ollama.Client(host=f"http://127.0.0.1:{server.port}")
        chat = client.chat(model="auto", messages=QUESTION, options={"temperature": 0, "num_predict": 24})
        self.assertEqual(chat.model, LARGE)
        # The Responses API names the answering model in its envelope too.
        response = self.openai.responses.create(model="auto", input=QUESTION[0]["content"], max_output_tokens=24, temperature=0)
        self.assertEqual(response.model, LARGE)
        events = list(self.openai.responses.create(model="auto", input=QUESTION[0]["content"], max_output_tokens=24,
                                                   temperature=0, stream=True))
        self.assertEqual({event.response.model for event in events if hasattr(event, "response")}, {LARGE})

    def test_a_broken_policy_is_named(self):
        server = self.serve(-1)
        for policy, expected in [
            ("{not json", "router.json"),
            (json.dumps({"tiers": [SMALL], "min_mean_logprob": -1, "checks": ["spelling"]}), "router.json"),
            (json.dumps({"tiers": [SMALL], "min_mean_logprob": -1, "remote": {"url": "ftp://x", "model": "m"}}), "remote"),
        ]:
            with self.subTest(policy=policy):
                (self.home / "router.json").write_text(policy)
                status, _, body = request(server.port, "POST", "/v1/chat/completions", {"model": "auto", "messages": QUESTION})
                self.assertEqual(status, 500)
                self.assertIn(expected, body)


if __name__ == "__main__":
    unittest.main()
