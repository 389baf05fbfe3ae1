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

    def serve(self, threshold):
        (self.home / "router.json").write_text(json.dumps({"tiers": [SMALL, LARGE], "min_mean_logprob": threshold}))
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
        (self.home / "router.json").write_text("{not json")
        status, _, body = request(server.port, "POST", "/v1/chat/completions", {"model": "auto", "messages": QUESTION})
        self.assertEqual(status, 500)
        self.assertIn("router.json", body)


if __name__ == "__main__":
    unittest.main()
