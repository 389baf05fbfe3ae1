"""End-to-end test of `hearth serve` driven by the official Python clients.

Each test class starts its own `hearth serve` (a subprocess on a free loopback port, with
HEARTH_HOME pointing at the test store), talks to it with `openai`, `ollama` or raw HTTP, and
at the end stops it with SIGTERM and checks that it exits 0.

    HEARTH_BIN        the server binary (default .build/release/hearth, relative to the repo)
    HEARTH_TEST_HOME  the model store holding smollm2:135m (default ~/.cache/hearth-test)

Run with scripts/test-clients (installs the pinned clients first), or directly:
    python3 -m unittest discover -s Tests/clients -v
"""

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import ollama
import openai
from openai import OpenAI

from hearth_process import REPO, RUNNING, free_port, hearth_bin, hearth_home

MODEL = "smollm2:135m"
EMBEDDING_SIZE = 576  # smollm2-135m's llama.embedding_length
STARTUP_SECONDS = 60
REQUEST_TIMEOUT = 120


CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
# A raw completion a small model continues for a long time under greedy decoding.
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,"


class Server:
    """A `hearth serve` subprocess on a free loopback port."""

    def __init__(self, *arguments):
        binary = hearth_bin()
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"no server binary at {binary} (set HEARTH_BIN)")
        if not (hearth_home() / "manifests" / f"{MODEL}.json").exists():
            raise AssertionError(f"{MODEL} is not installed in {hearth_home()} (run scripts/test, or set HEARTH_TEST_HOME)")
        self.port = free_port()
        self.arguments = ["serve", "--port", str(self.port), *arguments]
        self.stdout_lines = []
        self.stderr = tempfile.TemporaryFile()
        self.final_stderr = ""
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        self.process = subprocess.Popen(
            [str(binary), *self.arguments], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        RUNNING.append(self.process)
        self.reader = threading.Thread(target=self._read_stdout, daemon=True)
        self.reader.start()
        self._wait_until_healthy()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.stdout_lines.append(line.rstrip("\n"))

    def stderr_text(self):
        """The end of what the server wrote to stderr (kept after stop() closes the file)."""
        if not self.stderr.closed:
            self.stderr.seek(0)
            self.final_stderr = self.stderr.read().decode(errors="replace")[-4000:]
        return self.final_stderr

    def _wait_until_healthy(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"hearth {' '.join(self.arguments)} exited with {self.process.returncode} before it was ready:\n"
                    f"{self.stderr_text()}")
            try:
                status, _, body = request(self.port, "GET", "/health", timeout=2)
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
                last_error = f"GET /health answered {status}: {body[:200]!r}"
            except OSError as error:
                last_error = repr(error)
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        raise AssertionError(f"hearth {' '.join(self.arguments)} not healthy within {STARTUP_SECONDS} s ({last_error}):\n"
                             f"{self.stderr_text()}")

    def ready_line(self, wait=5.0):
        """The 'serving … on http://127.0.0.1:PORT' line, once it has been printed."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for line in self.stdout_lines:
                if "serving" in line:
                    return line
            time.sleep(0.05)
        return None

    def stop(self, timeout=30):
        """SIGTERM, then the exit code (killing it if it does not exit within `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"hearth did not exit within {timeout} s of SIGTERM:\n{self.stderr_text()}")
        finally:
            self.reader.join(timeout=5)
            self.process.stdout.close()
            self.stderr_text()
            self.stderr.close()


def request(port, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
    """One raw HTTP request: (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def read_sse(response):
    """The `data:` payloads of a whole event stream, in order, after checking its framing: every
    event is one `data: ` line followed by a blank line."""
    payloads = []
    text = response.read().decode()
    assert text.endswith("\n\n"), f"the stream does not end with a blank line: {text[-200:]!r}"
    for event in text[:-2].split("\n\n"):
        lines = event.split("\n")
        assert len(lines) == 1 and lines[0].startswith("data: "), f"not a single-line data event: {event!r}"
        payloads.append(lines[0][len("data: "):])
    return payloads


def norm(vector):
    return math.sqrt(sum(x * x for x in vector))


def metric(port, name):
    """A counter from GET /metrics."""
    status, _, body = request(port, "GET", "/metrics", timeout=10)
    assert status == 200, f"GET /metrics answered {status}"
    match = re.search(rf"^{re.escape(name)} ([0-9.eE+-]+)$", body, re.MULTILINE)
    assert match, f"{name} is not in /metrics:\n{body[:1000]}"
    return float(match.group(1))


class ServerTestCase(unittest.TestCase):
    """Starts one server for the class; stops it with SIGTERM at the end and checks exit 0."""

    server_arguments = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_arguments)
        cls.port = cls.server.port
        cls.base = f"http://127.0.0.1:{cls.port}"
        # A class cleanup runs even when the rest of setUpClass fails, and its failure is reported.
        cls.addClassCleanup(cls.stop_server, cls.server)

    @staticmethod
    def stop_server(server):
        code = server.stop()
        if code != 0:
            raise AssertionError(f"hearth exited with {code} after SIGTERM (expected 0):\n{server.stderr_text()}")


class ModelClientsTestCase(ServerTestCase):
    """A server serving `models` (all installed in the test store), with an `openai` and an
    `ollama` client pointed at it."""

    models = ()

    @classmethod
    def setUpClass(cls):
        missing = [model for model in cls.models if not (hearth_home() / "manifests" / f"{model}.json").exists()]
        if missing:
            raise AssertionError(f"{', '.join(missing)} not installed in {hearth_home()} (run scripts/test, or set HEARTH_TEST_HOME)")
        cls.server_arguments = tuple(argument for model in cls.models for argument in ("--model", model))
        super().setUpClass()
        cls.openai = OpenAI(base_url=f"{cls.base}/v1", api_key="unused", max_retries=0, timeout=REQUEST_TIMEOUT)
        cls.addClassCleanup(cls.openai.close)
        cls.ollama = ollama.Client(host=cls.base, timeout=REQUEST_TIMEOUT)
        cls.addClassCleanup(cls.ollama.close)


# MARK: - OpenAI


class OpenAIClientTests(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # No retries: a 5xx or a dropped connection must fail the test, not be papered over.
        cls.client = OpenAI(base_url=f"{cls.base}/v1", api_key="unused", max_retries=0, timeout=REQUEST_TIMEOUT)
        cls.addClassCleanup(cls.client.close)

    def greedy(self, messages=CHAT, **parameters):
        """A chat completion with greedy decoding; a parameter given as None is left out."""
        arguments = dict(model=MODEL, messages=messages, temperature=0, seed=42, max_tokens=16)
        arguments.update(parameters)
        return self.client.chat.completions.create(**{k: v for k, v in arguments.items() if v is not None})

    def test_ready_line_printed(self):
        line = self.server.ready_line()
        self.assertIsNotNone(line, f"no ready line on stdout; got {self.server.stdout_lines!r}")
        self.assertRegex(line, rf"^Hearth \S+ serving the OpenAI and Ollama APIs on http://127\.0\.0\.1:{self.port}$")

    def test_models_list(self):
        ids = [model.id for model in self.client.models.list()]
        self.assertIn(MODEL, ids)
        model = self.client.models.retrieve(MODEL)
        self.assertEqual(model.id, MODEL)
        self.assertEqual(model.object, "model")

    def test_chat_non_streaming(self):
        completion = self.greedy()
        self.assertEqual(completion.object, "chat.completion")
        self.assertEqual(completion.model, MODEL)
        self.assertEqual(len(completion.choices), 1)
        choice = completion.choices[0]
        self.assertEqual(choice.message.role, "assistant")
        self.assertTrue(choice.message.content.strip(), "empty content")
        self.assertIn(choice.finish_reason, {"stop", "length"})
        usage = completion.usage
        self.assertGreater(usage.prompt_tokens, 0)
        self.assertGreater(usage.completion_tokens, 0)
        self.assertLessEqual(usage.completion_tokens, 16)
        self.assertEqual(usage.prompt_tokens + usage.completion_tokens, usage.total_tokens)
        if choice.finish_reason == "length":
            self.assertEqual(usage.completion_tokens, 16)

    def test_chat_greedy_is_deterministic(self):
        first = self.greedy().choices[0].message.content
        second = self.greedy().choices[0].message.content
        self.assertTrue(first)
        self.assertEqual(first, second)

    def test_chat_streaming_matches_non_streaming(self):
        expected = self.greedy().choices[0].message.content
        chunks = list(self.greedy(stream=True))
        self.assertGreater(len(chunks), 1)
        for chunk in chunks:
            self.assertEqual(chunk.object, "chat.completion.chunk")
            self.assertEqual(chunk.model, MODEL)
        self.assertEqual(len({chunk.id for chunk in chunks}), 1, "chunks of one stream must share an id")
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        self.assertEqual(text, expected)
        self.assertIn(chunks[-1].choices[0].finish_reason, {"stop", "length"})
        self.assertTrue(all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1]),
                        "only the last chunk may carry a finish_reason")
        self.assertTrue(all(chunk.usage is None for chunk in chunks), "usage without stream_options.include_usage")

    def test_stream_include_usage(self):
        chunks = list(self.greedy(stream=True, stream_options={"include_usage": True}))
        final = chunks[-1]
        self.assertEqual(final.choices, [])
        self.assertIsNotNone(final.usage)
        self.assertGreater(final.usage.prompt_tokens, 0)
        self.assertGreater(final.usage.completion_tokens, 0)
        self.assertEqual(final.usage.prompt_tokens + final.usage.completion_tokens, final.usage.total_tokens)
        self.assertIn(chunks[-2].choices[0].finish_reason, {"stop", "length"})
        reference = self.greedy().usage
        self.assertEqual(final.usage.completion_tokens, reference.completion_tokens)
        self.assertEqual(final.usage.prompt_tokens, reference.prompt_tokens)

    def test_sampling_parameters_and_seed(self):
        arguments = dict(temperature=1.0, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.5, seed=7, max_tokens=16)
        first = self.greedy(**arguments).choices[0].message.content
        second = self.greedy(**arguments).choices[0].message.content
        self.assertTrue(first)
        self.assertEqual(first, second, "the same seed must give the same sample")

    def test_max_tokens_one(self):
        completion = self.greedy(max_tokens=1)
        self.assertEqual(completion.choices[0].finish_reason, "length")
        self.assertEqual(completion.usage.completion_tokens, 1)
        self.assertTrue(completion.choices[0].message.content)

    def test_max_completion_tokens(self):
        completion = self.greedy(max_tokens=None, max_completion_tokens=3, messages=STORY)
        self.assertEqual(completion.choices[0].finish_reason, "length")
        self.assertEqual(completion.usage.completion_tokens, 3)

    def test_stop_string(self):
        full = self.greedy(messages=STORY, max_tokens=32).choices[0].message.content
        words = [word for word in full.split() if len(word) >= 3]
        self.assertGreaterEqual(len(words), 3, f"too short to pick a stop string from: {full!r}")
        stop = words[len(words) // 2]
        cut = full.index(stop)
        self.assertGreater(cut, 0)
        completion = self.greedy(messages=STORY, max_tokens=32, stop=[stop, "\u2603never\u2603"])
        self.assertEqual(completion.choices[0].message.content, full[:cut])
        self.assertEqual(completion.choices[0].finish_reason, "stop")

    def test_logprobs(self):
        completion = self.greedy(max_tokens=6, logprobs=True, top_logprobs=2)
        entries = completion.choices[0].logprobs.content
        self.assertEqual(len(entries), completion.usage.completion_tokens)
        self.assertEqual("".join(entry.token for entry in entries), completion.choices[0].message.content)
        for entry in entries:
            self.assertLessEqual(entry.logprob, 0)
            self.assertEqual(len(entry.top_logprobs), 2)
            self.assertTrue(all(alternative.logprob <= 0 for alternative in entry.top_logprobs))
            self.assertGreaterEqual(entry.top_logprobs[0].logprob, entry.top_logprobs[1].logprob)
            # Greedy: the chosen token is the most likely one.
            self.assertEqual(entry.token, entry.top_logprobs[0].token)
            self.assertAlmostEqual(entry.logprob, entry.top_logprobs[0].logprob, places=4)
            self.assertEqual(bytes(entry.bytes).decode(errors="replace"), entry.token)
        plain = self.greedy(max_tokens=6)
        self.assertIsNone(plain.choices[0].logprobs)

    def test_completions(self):
        arguments = dict(model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0)
        completion = self.client.completions.create(**arguments)
        self.assertEqual(completion.object, "text_completion")
        self.assertTrue(completion.choices[0].text.strip())
        self.assertIn(completion.choices[0].finish_reason, {"stop", "length"})
        self.assertGreater(completion.usage.prompt_tokens, 0)
        self.assertGreater(completion.usage.completion_tokens, 0)
        self.assertLessEqual(completion.usage.completion_tokens, 8)
        self.assertEqual(completion.usage.prompt_tokens + completion.usage.completion_tokens, completion.usage.total_tokens)
        streamed = "".join(chunk.choices[0].text for chunk in self.client.completions.create(stream=True, **arguments)
                           if chunk.choices)
        self.assertEqual(streamed, completion.choices[0].text)

    def test_embeddings(self):
        texts = ["The cat sat on the mat.", "Quarterly revenue rose by four percent."]
        # No encoding_format: the client asks for base64 and decodes it.
        response = self.client.embeddings.create(model=MODEL, input=texts)
        self.assertEqual(len(response.data), 2)
        self.assertEqual([item.index for item in response.data], [0, 1])
        first, second = (item.embedding for item in response.data)
        for vector in (first, second):
            self.assertEqual(len(vector), EMBEDDING_SIZE)
            self.assertAlmostEqual(norm(vector), 1.0, delta=1e-3)
            self.assertTrue(all(math.isfinite(x) for x in vector))
        self.assertGreater(max(abs(a - b) for a, b in zip(first, second)), 1e-3, "different inputs, same vector")
        self.assertGreater(response.usage.prompt_tokens, 0)
        again = self.client.embeddings.create(model=MODEL, input=texts[0]).data[0].embedding
        self.assertLess(max(abs(a - b) for a, b in zip(first, again)), 1e-5, "same input, different vector")
        floats = self.client.embeddings.create(model=MODEL, input=texts[0], encoding_format="float").data[0].embedding
        self.assertLess(max(abs(a - b) for a, b in zip(first, floats)), 1e-5, "base64 and float encodings disagree")

    def assertBadRequest(self, parameter, **overrides):
        with self.assertRaises(openai.BadRequestError) as caught:
            self.greedy(**overrides)
        error = caught.exception
        self.assertEqual(error.status_code, 400)
        self.assertIsInstance(error.body, dict, f"error body not in OpenAI's shape: {error.response.text}")
        self.assertEqual(set(error.body), {"message", "type", "param", "code"}, error.response.text)
        self.assertTrue(error.body["message"])
        self.assertEqual(error.body["type"], "invalid_request_error")
        self.assertEqual(error.body["param"], parameter)

    def test_error_bad_temperature(self):
        self.assertBadRequest("temperature", temperature=-1)

    def test_reasoning_effort_goes_to_the_template(self):
        # smollm2's template never reads it (gpt-oss's writes it into its system message), so
        # the greedy answer is the one without it; a level OpenAI doesn't have is refused.
        plain = self.greedy().choices[0].message.content
        self.assertEqual(self.greedy(reasoning_effort="low").choices[0].message.content, plain)
        self.assertBadRequest("reasoning_effort", reasoning_effort="extreme")

    def test_error_tool_schema_unenforceable(self):
        # A keyword the grammar cannot enforce is refused, naming where it is, never skipped.
        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                                  "if": {"required": ["city"]}}}}]
        self.assertBadRequest("tools[0].function.parameters", tools=tools)

    def test_error_max_tokens_too_large(self):
        self.assertBadRequest("max_tokens", max_tokens=2**31)

    def test_error_unknown_model(self):
        with self.assertRaises(openai.NotFoundError) as caught:
            self.greedy(model="no-such-model:1b")
        self.assertEqual(caught.exception.status_code, 404)
        self.assertIn("no-such-model", caught.exception.body["message"])
        with self.assertRaises(openai.NotFoundError):
            self.client.embeddings.create(model="no-such-model:1b", input="hello")

    def test_sse_framing(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            body = {"model": MODEL, "messages": CHAT, "temperature": 0, "max_tokens": 8, "stream": True,
                    "stream_options": {"include_usage": True}}
            connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            self.assertEqual(response.status, 200)
            self.assertTrue(response.getheader("Content-Type", "").startswith("text/event-stream"))
            payloads = read_sse(response)
        finally:
            connection.close()
        self.assertEqual(payloads[-1], "[DONE]")
        self.assertNotIn("[DONE]", payloads[:-1])
        events = [json.loads(payload) for payload in payloads[:-1]]
        self.assertEqual(events[-1]["choices"], [])
        self.assertEqual(events[-1]["usage"]["total_tokens"],
                         events[-1]["usage"]["prompt_tokens"] + events[-1]["usage"]["completion_tokens"])
        self.assertIn(events[-2]["choices"][0]["finish_reason"], {"stop", "length"})


class OpenAIAuthTests(ServerTestCase):
    KEY = "hearth-test-key-3f9c"
    server_arguments = ("--api-key", KEY)

    def openai_client(self, key):
        client = OpenAI(base_url=f"{self.base}/v1", api_key=key, max_retries=0, timeout=REQUEST_TIMEOUT)
        self.addCleanup(client.close)
        return client

    def ollama_client(self, **arguments):
        client = ollama.Client(host=self.base, timeout=REQUEST_TIMEOUT, **arguments)
        self.addCleanup(client.close)
        return client

    def test_wrong_key_is_rejected(self):
        client = self.openai_client("wrong-key")
        with self.assertRaises(openai.AuthenticationError) as caught:
            client.models.list()
        self.assertEqual(caught.exception.status_code, 401)
        with self.assertRaises(openai.AuthenticationError):
            client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=1)

    def test_right_key_is_accepted(self):
        client = self.openai_client(self.KEY)
        self.assertIn(MODEL, [model.id for model in client.models.list()])
        completion = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=2, temperature=0)
        self.assertTrue(completion.choices[0].message.content)

    def test_ollama_client_with_key(self):
        with self.assertRaises(ollama.ResponseError) as caught:
            self.ollama_client().list()
        self.assertEqual(caught.exception.status_code, 401)
        client = self.ollama_client(headers={"Authorization": f"Bearer {self.KEY}"})
        self.assertIn(MODEL, [model.model for model in client.list().models])

    def test_health_needs_no_key(self):
        status, _, body = request(self.port, "GET", "/health")
        self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))


# MARK: - Ollama


class OllamaClientTests(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = ollama.Client(host=cls.base, timeout=REQUEST_TIMEOUT)
        cls.addClassCleanup(cls.client.close)

    OPTIONS = {"temperature": 0, "num_predict": 16, "seed": 42}

    def test_list(self):
        models = {model.model: model for model in self.client.list().models}
        self.assertIn(MODEL, models)
        model = models[MODEL]
        self.assertGreater(model.size, 10_000_000)
        self.assertRegex(model.digest, r"^[0-9a-f]{64}$")
        self.assertIsNotNone(model.modified_at)
        self.assertEqual(model.details.family, "llama")
        self.assertEqual(model.details.format, "gguf")
        self.assertTrue(model.details.parameter_size)
        self.assertTrue(model.details.quantization_level)

    def test_show(self):
        shown = self.client.show(MODEL)
        self.assertEqual(shown.details.family, "llama")
        self.assertIn("messages", shown.template, "the chat template should be the model's Jinja template")
        self.assertEqual(shown.modelinfo["general.architecture"], "llama")
        self.assertEqual(shown.modelinfo["llama.embedding_length"], EMBEDDING_SIZE)
        with self.assertRaises(ollama.ResponseError) as caught:
            self.client.show("no-such-model:1b")
        self.assertEqual(caught.exception.status_code, 404)

    def test_chat_non_streaming(self):
        response = self.client.chat(model=MODEL, messages=CHAT, options=self.OPTIONS)
        self.assertEqual(response.model, MODEL)
        self.assertEqual(response.message.role, "assistant")
        self.assertTrue(response.message.content.strip())
        self.assertTrue(response.done)
        self.assertIn(response.done_reason, {"stop", "length"})
        self.assertGreater(response.eval_count, 0)
        self.assertLessEqual(response.eval_count, 16)
        self.assertGreater(response.prompt_eval_count, 0)
        self.assertGreater(response.total_duration, 0)

    def test_chat_streaming_matches_non_streaming(self):
        expected = self.client.chat(model=MODEL, messages=CHAT, options=self.OPTIONS).message.content
        parts = list(self.client.chat(model=MODEL, messages=CHAT, options=self.OPTIONS, stream=True))
        self.assertGreater(len(parts), 1)
        self.assertEqual("".join(part.message.content for part in parts), expected)
        self.assertTrue(parts[-1].done)
        self.assertFalse(any(part.done for part in parts[:-1]))
        self.assertGreater(parts[-1].eval_count, 0)

    def test_num_predict_one(self):
        response = self.client.chat(model=MODEL, messages=CHAT, options={"temperature": 0, "num_predict": 1})
        self.assertEqual(response.eval_count, 1)
        self.assertEqual(response.done_reason, "length")

    def test_generate(self):
        response = self.client.generate(model=MODEL, prompt="Why is the sky blue?", options=self.OPTIONS)
        self.assertTrue(response.response.strip())
        self.assertTrue(response.done)
        self.assertGreater(response.eval_count, 0)
        parts = list(self.client.generate(model=MODEL, prompt="Why is the sky blue?", options=self.OPTIONS, stream=True))
        self.assertEqual("".join(part.response for part in parts), response.response)
        self.assertTrue(parts[-1].done)
        self.assertEqual(parts[-1].eval_count, response.eval_count)

    def test_stop_option(self):
        prompt = "Tell me a short story about a lighthouse keeper."
        options = {"temperature": 0, "num_predict": 32, "top_k": 40, "repeat_penalty": 1.1}
        full = self.client.generate(model=MODEL, prompt=prompt, options=options).response
        words = [word for word in full.split() if len(word) >= 3]
        self.assertGreaterEqual(len(words), 3, f"too short to pick a stop string from: {full!r}")
        stop = words[len(words) // 2]
        cut = full.index(stop)
        response = self.client.generate(model=MODEL, prompt=prompt, options=dict(options, stop=[stop]))
        self.assertEqual(response.response, full[:cut])
        self.assertEqual(response.done_reason, "stop")

    def test_ps_lists_model_after_use(self):
        self.client.generate(model=MODEL, prompt="Hi", options={"num_predict": 1})
        running = {model.model: model for model in self.client.ps().models}
        self.assertIn(MODEL, running)
        self.assertEqual(running[MODEL].details.family, "llama")
        self.assertGreater(running[MODEL].size, 0)
        self.assertGreater(running[MODEL].expires_at.timestamp(), time.time())

    def test_version(self):
        # ollama-python 0.6.3 has no version() method; this is the route its CLI and apps call.
        response = self.client._client.get("/api/version")
        self.assertEqual(response.status_code, 200)
        self.assertRegex(response.json()["version"], r"^\d+\.\d+\.\d+")

    def test_embed(self):
        texts = ["The cat sat on the mat.", "Quarterly revenue rose by four percent."]
        response = self.client.embed(model=MODEL, input=texts)
        self.assertEqual(len(response.embeddings), 2)
        for vector in response.embeddings:
            self.assertEqual(len(vector), EMBEDDING_SIZE)
            self.assertAlmostEqual(norm(vector), 1.0, delta=1e-3)
        self.assertGreater(max(abs(a - b) for a, b in zip(*response.embeddings)), 1e-3)
        # The same vector the OpenAI route gives.
        status, _, body = request(self.port, "POST", "/v1/embeddings", {"model": MODEL, "input": texts[0], "encoding_format": "float"})
        self.assertEqual(status, 200, body)
        openai_vector = json.loads(body)["data"][0]["embedding"]
        self.assertLess(max(abs(a - b) for a, b in zip(response.embeddings[0], openai_vector)), 1e-5)

    def test_error_unknown_model(self):
        with self.assertRaises(ollama.ResponseError) as caught:
            self.client.chat(model="no-such-model:1b", messages=CHAT)
        self.assertEqual(caught.exception.status_code, 404)
        self.assertIn("no-such-model", caught.exception.error)
        with self.assertRaises(ollama.ResponseError) as caught:
            list(self.client.generate(model="no-such-model:1b", prompt="Hi", stream=True))
        self.assertEqual(caught.exception.status_code, 404)

    def test_error_bad_option(self):
        with self.assertRaises(ollama.ResponseError) as caught:
            self.client.chat(model=MODEL, messages=CHAT, options={"temperature": "hot"})
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("temperature", caught.exception.error)

    def test_error_pull_outside_catalog(self):
        with self.assertRaises(ollama.ResponseError) as caught:
            self.client.pull("https://example.com/evil.gguf")
        self.assertEqual(caught.exception.status_code, 404)

    def test_error_shape_raw(self):
        status, headers, body = request(self.port, "POST", "/api/chat", {"model": MODEL, "messages": CHAT, "options": {"temperature": -5}})
        self.assertEqual(status, 400)
        error = json.loads(body)
        self.assertEqual(set(error), {"error"})
        self.assertIsInstance(error["error"], str)


# MARK: - Raw HTTP: context, concurrency, disconnects, shutdown


LONG_PROMPT = " ".join(["The quick brown fox jumps over the lazy dog near the river bank."] * 17)  # ~200 words


class SmallContextTests(ServerTestCase):
    server_arguments = ("--ctx", "64")

    def test_prompt_longer_than_context_is_400(self):
        status, _, body = request(self.port, "POST", "/v1/chat/completions",
                                  {"model": MODEL, "messages": [{"role": "user", "content": LONG_PROMPT}], "max_tokens": 4})
        self.assertEqual(status, 400, body)
        error = json.loads(body)["error"]
        self.assertIn("context", error["message"])
        status, _, body = request(self.port, "POST", "/api/generate",
                                  {"model": MODEL, "prompt": LONG_PROMPT, "stream": True, "options": {"num_predict": 4}})
        self.assertEqual(status, 400, body)
        self.assertIn("context", json.loads(body)["error"])
        status, _, body = request(self.port, "POST", "/v1/embeddings", {"model": MODEL, "input": LONG_PROMPT})
        self.assertEqual(status, 400, body)

    def test_generation_stays_within_context(self):
        status, _, body = request(self.port, "POST", "/v1/completions",
                                  {"model": MODEL, "prompt": COUNTING, "max_tokens": 1000, "temperature": 0})
        self.assertEqual(status, 200, body)
        usage = json.loads(body)["usage"]
        self.assertGreater(usage["completion_tokens"], 0)
        self.assertLessEqual(usage["total_tokens"], 64)


def stream_request(port, body, path="/v1/chat/completions", timeout=REQUEST_TIMEOUT):
    """Sends a streaming request and returns (connection, response) with the status read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    return connection, connection.getresponse()


class ConcurrencyTests(ServerTestCase):
    server_arguments = ("--parallel", "1", "--max-queue", "1", "--model", MODEL)

    def completion(self, max_tokens):
        started = time.monotonic()
        status, _, body = request(self.port, "POST", "/v1/completions",
                                  {"model": MODEL, "prompt": COUNTING, "max_tokens": max_tokens, "temperature": 0})
        self.assertEqual(status, 200, body)
        return json.loads(body), time.monotonic() - started

    def test_overload_gets_503_with_retry_after(self):
        results = [None] * 4
        barrier = threading.Barrier(len(results))

        def worker(index):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
                connection.connect()
                barrier.wait(timeout=30)
                body = {"model": MODEL, "messages": STORY, "temperature": 0, "max_tokens": 200, "stream": True}
                connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                if response.status == 200:
                    results[index] = (200, None, read_sse(response))
                else:
                    results[index] = (response.status, response.getheader("Retry-After"), response.read().decode())
                connection.close()
            except Exception as error:  # reported below
                results[index] = ("exception", None, repr(error))

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(results))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT)
        statuses = [result[0] for result in results]
        self.assertTrue(set(statuses) <= {200, 503}, results)
        self.assertGreaterEqual(statuses.count(503), 1, f"no request was refused: {statuses}")
        self.assertGreaterEqual(statuses.count(200), 2, f"one running and one queued request should succeed: {statuses}")
        for status, retry_after, payload in results:
            if status == 503:
                self.assertIsNotNone(retry_after, "503 without Retry-After")
                self.assertGreater(int(retry_after), 0)
                self.assertEqual(json.loads(payload)["error"]["type"], "server_busy")
            else:
                self.assertEqual(payload[-1], "[DONE]")
        status, _, body = request(self.port, "GET", "/health")
        self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))
        response, _ = self.completion(4)
        self.assertTrue(response["choices"][0]["text"])

    def test_client_disconnect_frees_the_slot(self):
        # How fast this machine generates, to bound what the abandoned request would cost.
        calibration, seconds = self.completion(96)
        rate = calibration["usage"]["completion_tokens"] / seconds
        abandoned_tokens = 2000
        full_cost = abandoned_tokens / rate
        before = metric(self.port, "hearth_generated_tokens_total")

        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        body = json.dumps({"model": MODEL, "prompt": COUNTING, "max_tokens": abandoned_tokens, "temperature": 0, "stream": True}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (self.port, len(body), body))
        received = b""
        while b"data: {" not in received:
            chunk = sock.recv(4096)
            self.assertTrue(chunk, f"the server closed the stream before the first token: {received!r}")
            received += chunk
        self.assertIn(b" 200 ", received.split(b"\r\n", 1)[0])
        sock.close()

        started = time.monotonic()
        response, _ = self.completion(4)
        waited = time.monotonic() - started
        self.assertTrue(response["choices"][0]["text"])
        self.assertLess(waited, max(3.0, full_cost / 4),
                        f"the next request waited {waited:.1f} s; generating {abandoned_tokens} tokens takes ~{full_cost:.1f} s "
                        f"at {rate:.0f} tokens/s, so the abandoned request kept its slot")
        generated = metric(self.port, "hearth_generated_tokens_total") - before
        self.assertLess(generated, abandoned_tokens / 2, "the abandoned generation was not stopped")
        status, _, body = request(self.port, "GET", "/health")
        self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))

    def test_half_closed_queued_request_is_dropped_at_once(self):
        # The slot is busy with a long answer; the next request waits in the queue.
        busy, busy_response = stream_request(self.port, {"model": MODEL, "prompt": COUNTING, "max_tokens": 2000,
                                                         "temperature": 0, "stream": True}, path="/v1/completions")
        self.assertEqual(busy_response.status, 200)
        busy_response.readline()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        body = json.dumps({"model": MODEL, "prompt": COUNTING, "max_tokens": 50, "temperature": 0}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (self.port, len(body), body))
        time.sleep(0.5)
        # The client gives up: it shuts down its sending side (as a killed script's socket does).
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        received = sock.recv(4096)
        waited = time.monotonic() - started
        sock.close()
        # Dropped at once (connection closed, no answer), not served after the busy request ends.
        self.assertEqual(received, b"", f"the half-closed request was answered: {received[:80]!r}")
        self.assertLess(waited, 10.0)
        busy_still_streaming = busy_response.readline()
        self.assertTrue(busy_still_streaming, "the busy request ended before the queued one was dropped")
        busy.close()
        # The server then serves again. Closing the busy stream and dropping the queued request
        # free their places as the server notices (not synchronously with this client's close),
        # so a request sent at once may still get the documented 503; it must succeed shortly.
        deadline = time.monotonic() + 10
        while True:
            status, _, body = request(self.port, "POST", "/v1/completions",
                                      {"model": MODEL, "prompt": COUNTING, "max_tokens": 4, "temperature": 0})
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 200, body)
        self.assertTrue(json.loads(body)["choices"][0]["text"])


class ShutdownTests(ServerTestCase):
    server_arguments = ("--model", MODEL)

    def test_sigterm_during_stream_drains(self):
        connection, response = stream_request(
            self.port, {"model": MODEL, "messages": STORY, "temperature": 0, "max_tokens": 64, "stream": True})
        self.assertEqual(response.status, 200)
        first = response.readline()
        self.assertTrue(first.startswith(b"data: {"), first)
        self.server.process.send_signal(signal.SIGTERM)
        rest = b""
        try:
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                rest += chunk
        except (http.client.IncompleteRead, ConnectionError) as error:
            self.fail(f"the stream was cut off by SIGTERM: {error!r} after {rest[-200:]!r}")
        finally:
            connection.close()
        text = (first + rest).decode()
        payloads = [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]
        for payload in payloads[:-1]:
            json.loads(payload)
        # Draining lets the request in flight finish.
        self.assertEqual(payloads[-1], "[DONE]", f"the stream ended without [DONE]: {text[-300:]!r}")
        self.assertIn(json.loads(payloads[-2])["choices"][0]["finish_reason"], {"stop", "length"})
        try:
            code = self.server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("hearth did not exit within 60 s of SIGTERM")
        self.assertEqual(code, 0, self.server.stderr_text())
        with self.assertRaises(OSError):
            request(self.port, "GET", "/health", timeout=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
