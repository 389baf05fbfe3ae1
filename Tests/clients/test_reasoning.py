"""Reasoning models: `<think>` blocks split from the answer on every route and in every shape
(OpenAI's `reasoning_content`, streamed as `delta.reasoning_content`; Ollama's `thinking`,
streamed too; Anthropic's thinking blocks; the Responses API's reasoning items), Ollama's
`think` switch, Anthropic's `thinking` and llama-server's `chat_template_kwargs`, and thoughts
sent back in the conversation.

No catalog model reasons, so the model here is qwen2.5-coder:0.5b created (as a user would,
with the `ollama` client) with a Qwen3-style template: it opens a `<think>` block at the start
of every answer unless `enable_thinking` is false, and writes an earlier answer's
`reasoning_content` back. What the model writes is then reasoning until it closes the block;
each test compares the split with the model's raw output for the same prompt (Ollama's
`raw: true`), so a token moved to the wrong side, lost or duplicated fails it.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import anthropic
import ollama

from openai import OpenAI

from hearth_process import hearth_bin, store_with
from test_clients import ModelClientsTestCase, read_sse, request
from test_ledger import LedgerServer

BASE = "qwen2.5-coder:0.5b"
NAME = f"thinking-test-{os.getpid()}"
TEMPLATE = (
    "{%- for message in messages %}<|im_start|>{{ message.role }}\n"
    "{% if message.role == 'assistant' and message.reasoning_content %}<think>\n{{ message.reasoning_content }}\n</think>\n\n{% endif %}"
    "{{ message.content }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}"
    "{%- endif %}"
)
QUESTION = "Is 17 a prime number? Answer yes or no."
TOKENS = 40
OPTIONS = {"temperature": 0, "seed": 7, "num_predict": TOKENS}


def split_like_llama_server(text):
    """The reference split of output that starts inside a `<think>` block."""
    if "</think>" not in text:
        return text, ""
    reasoning, _, content = text.partition("</think>")
    return reasoning, content.lstrip()


class ReasoningTests(ModelClientsTestCase):
    models = (BASE,)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ollama.create(model=NAME, from_=BASE, template=TEMPLATE)
        cls.addClassCleanup(cls.ollama.delete, NAME)
        prompt = f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
        cls.raw_thinking = cls.ollama.generate(model=NAME, prompt=prompt + "<think>\n", raw=True, options=OPTIONS).response
        cls.raw_plain = cls.ollama.generate(model=NAME, prompt=prompt + "<think>\n\n</think>\n\n", raw=True, options=OPTIONS).response
        cls.expected = split_like_llama_server(cls.raw_thinking)

    def chat(self, **extra):
        return self.openai.chat.completions.create(
            model=NAME, messages=[{"role": "user", "content": QUESTION}], temperature=0, seed=7, max_tokens=TOKENS, **extra)

    def test_the_model_thinks_and_the_raw_output_has_thoughts(self):
        self.assertTrue(self.expected[0].strip(), f"the model wrote no reasoning: {self.raw_thinking!r}")
        self.assertNotEqual(self.raw_thinking, self.raw_plain)

    def test_openai_reasoning_content_whole_and_streamed(self):
        message = self.chat().choices[0].message
        self.assertEqual((message.model_extra.get("reasoning_content"), message.content or ""), self.expected)
        stream = self.chat(stream=True)
        reasoning, content = [], []
        for chunk in stream:
            for choice in chunk.choices:
                reasoning.append(choice.delta.model_extra.get("reasoning_content") or "")
                content.append(choice.delta.content or "")
        self.assertEqual(("".join(reasoning), "".join(content)), self.expected)
        self.assertGreater(sum(1 for piece in reasoning if piece), 1, "reasoning should stream in pieces, not arrive whole")
        self.assertNotIn("<think>", "".join(content))

    def test_chat_template_kwargs_turns_thinking_off(self):
        message = self.chat(extra_body={"chat_template_kwargs": {"enable_thinking": False}}).choices[0].message
        self.assertIsNone(message.model_extra.get("reasoning_content"))
        self.assertEqual(message.content, self.raw_plain)

    def test_ollama_thinking_by_default_and_with_think_true(self):
        for think in (None, True):
            with self.subTest(think=think):
                response = self.ollama.chat(model=NAME, messages=[{"role": "user", "content": QUESTION}], options=OPTIONS, think=think)
                self.assertEqual((response.message.thinking, response.message.content), self.expected)
        thinking, content = [], []
        for part in self.ollama.chat(model=NAME, messages=[{"role": "user", "content": QUESTION}], options=OPTIONS, stream=True):
            thinking.append(part.message.thinking or "")
            content.append(part.message.content or "")
        self.assertEqual(("".join(thinking), "".join(content)), self.expected)
        generated = self.ollama.generate(model=NAME, prompt=QUESTION, options=OPTIONS, think=True)
        self.assertEqual((generated.thinking, generated.response), self.expected)

    def test_ollama_think_false_answers_without_thinking(self):
        response = self.ollama.chat(model=NAME, messages=[{"role": "user", "content": QUESTION}], options=OPTIONS, think=False)
        self.assertFalse(response.message.thinking)
        self.assertEqual(response.message.content, self.raw_plain)

    def test_capabilities_and_a_model_that_cannot_think(self):
        self.assertIn("thinking", self.ollama.show(NAME).capabilities)
        self.assertNotIn("thinking", self.ollama.show(BASE).capabilities)
        with self.assertRaises(ollama.ResponseError) as caught:
            self.ollama.chat(model=BASE, messages=[{"role": "user", "content": "Hi"}], think=True, options={"num_predict": 1})
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("think", caught.exception.error)
        # think: false on a model that does not reason changes nothing.
        quiet = self.ollama.chat(model=BASE, messages=[{"role": "user", "content": "Hi"}], think=False, options=OPTIONS)
        plain = self.ollama.chat(model=BASE, messages=[{"role": "user", "content": "Hi"}], options=OPTIONS)
        self.assertEqual(quiet.message.content, plain.message.content)

    def test_thoughts_sent_back_reach_the_template(self):
        """The clients' usual loop appends the answer message as it came back, thoughts included:
        accepted, and written into the prompt where the template puts them."""
        first = self.ollama.chat(model=NAME, messages=[{"role": "user", "content": QUESTION}], options=OPTIONS)
        follow_up = {"role": "user", "content": "Why?"}
        with_thoughts = self.ollama.chat(model=NAME, messages=[{"role": "user", "content": QUESTION}, first.message, follow_up],
                                         options={**OPTIONS, "num_predict": 1})
        without = self.ollama.chat(model=NAME, options={**OPTIONS, "num_predict": 1}, messages=[
            {"role": "user", "content": QUESTION}, {"role": "assistant", "content": first.message.content}, follow_up])
        self.assertGreater(with_thoughts.prompt_eval_count, without.prompt_eval_count)
        completion = self.chat()
        echoed = completion.choices[0].message.model_dump(exclude_none=True)
        again = self.openai.chat.completions.create(
            model=NAME, messages=[{"role": "user", "content": QUESTION}, echoed, follow_up], max_tokens=1, temperature=0)
        plain = self.openai.chat.completions.create(
            model=NAME, messages=[{"role": "user", "content": QUESTION}, {"role": "assistant", "content": echoed.get("content") or ""},
                                  follow_up], max_tokens=1, temperature=0)
        self.assertGreater(again.usage.prompt_tokens, plain.usage.prompt_tokens)
        # Thoughts on a user message are refused by name.
        status, _, body = request(self.port, "POST", "/api/chat", {
            "model": NAME, "stream": False, "messages": [{"role": "user", "content": "Hi", "thinking": "hm"}]})
        self.assertEqual(status, 400)
        self.assertIn("messages[0].thinking", body)

    def test_anthropic_thinking_blocks_whole_and_streamed(self):
        client = anthropic.Anthropic(base_url=self.base, api_key="unused", max_retries=0)
        self.addCleanup(client.close)
        # The client takes sampling settings in extra_body.
        arguments = dict(model=NAME, max_tokens=TOKENS, messages=[{"role": "user", "content": QUESTION}], extra_body={"temperature": 0})
        message = client.messages.create(**arguments)
        self.assertEqual(message.content[0].type, "thinking")
        self.assertEqual(message.content[0].thinking, self.expected[0])
        self.assertEqual("".join(block.text for block in message.content if block.type == "text"), self.expected[1])
        with client.messages.stream(**arguments) as stream:
            thinking = "".join(event.thinking for event in stream if event.type == "thinking")
            final = stream.get_final_message()
        self.assertEqual(thinking, self.expected[0])
        self.assertEqual([block.model_dump() for block in final.content], [block.model_dump() for block in message.content])
        # Display omitted: no thinking blocks; thinking disabled: the template's empty block.
        omitted = client.messages.create(**{**arguments, "extra_body": {
            "temperature": 0, "thinking": {"type": "enabled", "budget_tokens": 1024, "display": "omitted"}}})
        self.assertEqual([block.type for block in omitted.content if block.type == "thinking"], [])
        disabled = client.messages.create(**{**arguments, "extra_body": {"temperature": 0, "thinking": {"type": "disabled"}}})
        self.assertEqual("".join(block.text for block in disabled.content if block.type == "text"), self.raw_plain)
        # The thinking block sent back (with its empty signature) reaches the template.
        follow_up = {"role": "user", "content": "Why?"}
        with_thoughts = client.messages.count_tokens(model=NAME, messages=[
            arguments["messages"][0], {"role": "assistant", "content": [block.model_dump() for block in message.content]}, follow_up])
        without = client.messages.count_tokens(model=NAME, messages=[
            arguments["messages"][0], {"role": "assistant", "content": self.expected[1] or "No."}, follow_up])
        self.assertGreater(with_thoughts.input_tokens, without.input_tokens)

    def test_responses_reasoning_items_whole_and_streamed(self):
        response = self.openai.responses.create(model=NAME, input=QUESTION, temperature=0, max_output_tokens=TOKENS)
        self.assertEqual(response.output[0].type, "reasoning")
        self.assertEqual("".join(part.text for part in response.output[0].content), self.expected[0])
        self.assertEqual(response.output_text, self.expected[1])
        deltas, done = [], None
        for event in self.openai.responses.create(model=NAME, input=QUESTION, temperature=0, max_output_tokens=TOKENS, stream=True):
            if event.type == "response.reasoning_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                done = event.response
        self.assertEqual("".join(deltas), self.expected[0])
        self.assertEqual([item.type for item in done.output], [item.type for item in response.output])
        # Continued from the stored response, its reasoning item reaches the template with the answer.
        follow = self.openai.responses.create(model=NAME, input="Why?", previous_response_id=response.id, max_output_tokens=1)
        plain = self.openai.responses.create(model=NAME, max_output_tokens=1, input=[
            {"role": "user", "content": QUESTION}, {"role": "assistant", "content": response.output_text},
            {"role": "user", "content": "Why?"}])
        self.assertGreater(follow.usage.input_tokens, plain.usage.input_tokens)

    def test_raw_sse_carries_reasoning_before_content(self):
        status, _, body = request(self.port, "POST", "/v1/chat/completions", {
            "model": NAME, "messages": [{"role": "user", "content": QUESTION}], "stream": True,
            "temperature": 0, "seed": 7, "max_tokens": TOKENS})
        self.assertEqual(status, 200)

        class Body:
            def read(self_inner):
                return body.encode()
        kinds = []
        for payload in read_sse(Body()):
            if payload == "[DONE]":
                continue
            for choice in json.loads(payload)["choices"]:
                delta = choice["delta"]
                if delta.get("reasoning_content"):
                    kinds.append("reasoning")
                if delta.get("content"):
                    kinds.append("content")
        self.assertIn("reasoning", kinds)
        self.assertEqual(kinds, sorted(kinds, key=lambda kind: kind != "reasoning"), "reasoning comes before the answer")


class RoutedReasoningTests(unittest.TestCase):
    """`model: "auto"`: the router's tier answers first in full, then is replayed to the client;
    the replay streams the reasoning too."""

    def test_a_routed_stream_carries_the_reasoning(self):
        home = store_with("hearth-routed-thinking-", BASE)
        self.addCleanup(shutil.rmtree, home, True)
        with tempfile.TemporaryDirectory() as folder:
            modelfile = Path(folder) / "Modelfile"
            modelfile.write_text(f'FROM {BASE}\nTEMPLATE """{TEMPLATE}"""\n')
            subprocess.run([str(hearth_bin()), "create", NAME, "-f", str(modelfile)], check=True, capture_output=True,
                           env=dict(os.environ, HEARTH_HOME=str(home)))
        (home / "router.json").write_text(json.dumps({"tiers": [NAME, BASE], "min_mean_logprob": -100}))
        server = LedgerServer(home)
        self.addCleanup(server.stop)
        client = OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0)
        self.addCleanup(client.close)
        arguments = dict(model="auto", messages=[{"role": "user", "content": QUESTION}], temperature=0, seed=7, max_tokens=TOKENS)
        whole = client.chat.completions.create(**arguments).choices[0].message
        self.assertTrue(whole.model_extra.get("reasoning_content"))
        reasoning, content = [], []
        for chunk in client.chat.completions.create(**arguments, stream=True):
            for choice in chunk.choices:
                reasoning.append(choice.delta.model_extra.get("reasoning_content") or "")
                content.append(choice.delta.content or "")
        self.assertEqual(("".join(reasoning), "".join(content)), (whole.model_extra["reasoning_content"], whole.content or ""))


if __name__ == "__main__":
    unittest.main()
