"""The savings ledger (`HEARTH_HOME/ledger.sqlite`, `GET /api/usage`, `hearth usage`) against a
live `hearth serve`, driven by the official clients.

Each test runs a server on a store of its own (a temporary HEARTH_HOME holding smollm2:135m, hard
linked from the test store), so the ledger holds exactly what the test sent: after N answered
requests, N rows with the token counts the clients were told, totals that are their sums, and
every answered request still there after `kill -9`.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import anthropic
import ollama
from openai import OpenAI

from hearth_process import RUNNING, free_port, hearth_bin, hearth_home
from test_clients import MODEL, request

STARTUP_SECONDS = 60


class LedgerServer:
    """`hearth serve` on a temporary store holding only MODEL."""

    def __init__(self, home, *arguments, environment=None):
        self.home = home
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(hearth_bin()), "serve", "--port", str(self.port), *arguments],
            env=dict(os.environ, HEARTH_HOME=str(home), **(environment or {})), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        RUNNING.append(self.process)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hearth serve exited with {self.process.returncode}: {self.stderr()}")
            try:
                if request(self.port, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.process.kill()
        raise AssertionError("hearth serve did not become healthy")

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.log.close()


class LedgerTests(unittest.TestCase):
    def setUp(self):
        self.home = Path(tempfile.mkdtemp(prefix="hearth-ledger-"))
        self.addCleanup(shutil.rmtree, self.home, True)
        (self.home / "models").mkdir()
        source = hearth_home() / "models" / f"{MODEL}.gguf"
        target = self.home / "models" / f"{MODEL}.gguf"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    def serve(self, *arguments):
        server = LedgerServer(self.home, *arguments)
        self.addCleanup(server.stop)
        return server

    def rows(self):
        with sqlite3.connect(self.home / "ledger.sqlite") as database:
            return database.execute("SELECT route, model, prompt_tokens, completion_tokens FROM requests ORDER BY id").fetchall()

    def test_every_answer_is_one_row_with_the_counts_the_client_was_told(self):
        server = self.serve()
        base = f"http://127.0.0.1:{server.port}"
        openai = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        self.addCleanup(openai.close)
        client = ollama.Client(host=base)
        claude = anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0)
        told = []  # (route, prompt tokens, completion tokens) as each client reported them
        question = [{"role": "user", "content": "Name three rivers."}]
        for tokens in (4, 9):
            answer = openai.chat.completions.create(model=MODEL, messages=question, max_tokens=tokens, temperature=0)
            told.append(("/v1/chat/completions", answer.usage.prompt_tokens, answer.usage.completion_tokens))
        stream = openai.chat.completions.create(model=MODEL, messages=question, max_tokens=7, stream=True,
                                                stream_options={"include_usage": True})
        usage = [chunk.usage for chunk in stream if chunk.usage][0]
        told.append(("/v1/chat/completions", usage.prompt_tokens, usage.completion_tokens))
        completion = openai.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5)
        told.append(("/v1/completions", completion.usage.prompt_tokens, completion.usage.completion_tokens))
        chat = client.chat(model=MODEL, messages=question, options={"num_predict": 6})
        told.append(("/api/chat", chat.prompt_eval_count, chat.eval_count))
        generated = client.generate(model=MODEL, prompt="Why is the sea salty?", options={"num_predict": 3})
        told.append(("/api/generate", generated.prompt_eval_count, generated.eval_count))
        message = claude.messages.create(model=MODEL, max_tokens=5, messages=question)
        # Anthropic counts the prompt tokens read from the prompt cache apart from input_tokens.
        told.append(("/v1/messages", message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0),
                     message.usage.output_tokens))

        # Embeddings are work too: a row each, priced at the cloud embedding model.
        embedded = openai.embeddings.create(model=MODEL, input=["a river", "the sea"])
        told.append(("/v1/embeddings", embedded.usage.prompt_tokens, 0))
        embed = client.embed(model=MODEL, input="Why is the sea salty?")
        told.append(("/api/embed", embed.prompt_eval_count, 0))

        rows = self.rows()
        self.assertEqual(sorted((route, p, c) for route, _, p, c in rows), sorted(told))
        self.assertEqual({model for _, model, _, _ in rows}, {MODEL})

        status, _, body = request(server.port, "GET", "/api/usage")
        self.assertEqual(status, 200, body)
        usage = json.loads(body)
        self.assertEqual(usage["requests"], len(told))
        self.assertEqual(usage["prompt_tokens"], sum(p for _, p, _ in told))
        self.assertEqual(usage["completion_tokens"], sum(c for _, _, c in told))
        self.assertGreater(usage["cloud_cost_usd"], 0)
        self.assertEqual([entry["model"] for entry in usage["by_model"]], [MODEL])

        # `hearth usage --json` reads the same ledger to the same totals.
        cli = subprocess.run([str(hearth_bin()), "usage", "--json"], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, HEARTH_HOME=str(self.home)))
        self.assertEqual(cli.returncode, 0, cli.stderr)
        totals = json.loads(cli.stdout)
        for key in ("requests", "prompt_tokens", "completion_tokens", "cloud_cost_usd"):
            self.assertEqual(totals[key], usage[key], key)

        # Prometheus: tokens and the cloud-equivalent dollars.
        _, _, metrics = request(server.port, "GET", "/metrics")
        self.assertIn("hearth_cloud_cost_usd_total{cloud_model=", metrics)
        self.assertIn('hearth_cloud_cost_usd_total{cloud_model="text-embedding-3-small"}', metrics)
        self.assertEqual(usage["embedding_requests"], 2)
        with sqlite3.connect(self.home / "ledger.sqlite") as database:
            kinds = database.execute("SELECT route, kind, cloud_model FROM requests WHERE kind = 'embedding' ORDER BY id").fetchall()
        self.assertEqual(kinds, [("/v1/embeddings", "embedding", "text-embedding-3-small"),
                                 ("/api/embed", "embedding", "text-embedding-3-small")])
        self.assertEqual(request(server.port, "GET", "/api/usage?since=yesterday")[0], 400)

    def test_kill_9_loses_no_answered_request(self):
        server = self.serve("--parallel", "2")
        answered, errors = [], []
        lock = threading.Lock()

        def ask(index):
            try:
                status, _, body = request(server.port, "POST", "/v1/chat/completions", {
                    "model": MODEL, "max_tokens": 8 + 8 * (index % 4),
                    "messages": [{"role": "user", "content": f"Count to {index + 3}."}]}, timeout=120)
                if status == 200:
                    usage = json.loads(body)["usage"]
                    with lock:
                        answered.append((usage["prompt_tokens"], usage["completion_tokens"]))
            except OSError as error:  # the server died under this one
                errors.append(error)

        threads = [threading.Thread(target=ask, args=(index,)) for index in range(12)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with lock:
                if len(answered) >= 5:
                    break
            time.sleep(0.005)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        for thread in threads:
            thread.join()
        with lock:
            answered = list(answered)
        self.assertGreaterEqual(len(answered), 5)
        self.assertLess(len(answered), 12, "the kill came after every request was answered: nothing was under load")
        recorded = [(p, c) for _, _, p, c in self.rows()]
        for entry in answered:
            self.assertIn(entry, recorded, "an answered request is missing from the ledger")
            recorded.remove(entry)

    def test_a_corrupt_ledger_never_fails_a_request(self):
        (self.home / "ledger.sqlite").write_bytes(b"not a database " * 1000)
        server = self.serve()
        status, _, body = request(server.port, "POST", "/api/generate",
                                  {"model": MODEL, "prompt": "Hi", "stream": False, "options": {"num_predict": 3}})
        self.assertEqual(status, 200, body)
        self.assertTrue(list(self.home.glob("ledger.sqlite.corrupt-*")), "the corrupt ledger is kept beside")
        self.assertEqual(len(self.rows()), 1)
        self.assertIn("corrupt", server.stderr())

    def test_a_locked_ledger_never_fails_a_request(self):
        server = self.serve()
        ask = {"model": MODEL, "prompt": "Hi", "stream": False, "options": {"num_predict": 3}}
        self.assertEqual(request(server.port, "POST", "/api/generate", ask)[0], 200)
        holder = sqlite3.connect(self.home / "ledger.sqlite", isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            status, _, body = request(server.port, "POST", "/api/generate", ask, timeout=60)
            self.assertEqual(status, 200, body)
        finally:
            holder.execute("ROLLBACK")
        self.assertIn("not recorded", server.stderr())
        self.assertEqual(request(server.port, "POST", "/api/generate", ask)[0], 200)
        self.assertEqual(len(self.rows()), 2, "the request during the lock is skipped, the ones around it kept")

    def test_no_ledger_records_nothing(self):
        server = self.serve("--no-ledger")
        status, _, _ = request(server.port, "POST", "/api/generate",
                               {"model": MODEL, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}})
        self.assertEqual(status, 200)
        self.assertFalse((self.home / "ledger.sqlite").exists())
        self.assertEqual(request(server.port, "GET", "/api/usage")[0], 404)


if __name__ == "__main__":
    unittest.main()
