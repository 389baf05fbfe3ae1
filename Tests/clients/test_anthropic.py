"""Anthropic's Messages API (`/v1/messages`) end to end through the official `anthropic` client.

The client runs on its default settings (`anthropic.Anthropic(base_url=…, api_key=…)`), as an
app switching to Hearth would run it. Sampling fields the client no longer lists as arguments
(`temperature`) go in `extra_body`, as its documentation says to send such fields.

- smollm2:135m: a text answer, a system prompt (string and blocks), `messages.stream()` with
  `text_stream` and the final message, `stop_sequences` (stop_reason "stop_sequence" and the
  string that matched), `max_tokens`, the raw event sequence, `count_tokens`, and errors in
  Anthropic's shape (unknown model → NotFoundError, bad fields → BadRequestError);
- qwen2.5-coder:1.5b, with the prompts and tools of test_tools.py: a named tool, `any` and
  `auto`, whole and streamed, each call's input valid against its tool's schema, and the
  tool_result round trip ending in a text answer;
- `--api-key`: the key as `Authorization: Bearer` (what this client sends) or `x-api-key`
  (what Claude Code sends).

    HEARTH_BIN, HEARTH_TEST_HOME   as in test_clients.py

Run: scripts/test-clients -k Anthropic, or python3 -m unittest discover -s Tests/clients -p test_anthropic.py -v
"""

import json
import unittest

import anthropic

from test_clients import CHAT, MODEL, ModelClientsTestCase, ServerTestCase, request
from test_tools import AUTO_THRESHOLD, CHITCHAT, PROMPTS, argument_errors, tool_schema

TOOL_MODEL = "qwen2.5-coder:1.5b"
GREEDY = {"temperature": 0}
QUESTION = [{"role": "user", "content": "Name three colours."}]


def text_of(message):
    return "".join(block.text for block in message.content if block.type == "text")


def tool_uses(message):
    return [block for block in message.content if block.type == "tool_use"]


def anthropic_tools(tools):
    """test_tools.py's OpenAI tool definitions as Anthropic writes them."""
    return [{"name": tool["function"]["name"], "description": tool["function"]["description"],
             "input_schema": tool["function"]["parameters"]} for tool in tools]


class AnthropicClientCase(ModelClientsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anthropic = anthropic.Anthropic(base_url=cls.base, api_key="unused")
        cls.addClassCleanup(cls.anthropic.close)


class AnthropicMessagesTests(AnthropicClientCase):
    models = (MODEL,)

    def greedy(self, messages=QUESTION, max_tokens=24, **parameters):
        return self.anthropic.messages.create(model=MODEL, max_tokens=max_tokens, messages=messages, extra_body=GREEDY, **parameters)

    def test_text_answer(self):
        message = self.anthropic.messages.create(model=MODEL, max_tokens=32, messages=CHAT)
        self.assertEqual((message.type, message.role, message.model), ("message", "assistant", MODEL))
        self.assertTrue(message.id.startswith("msg_"), message.id)
        self.assertEqual([block.type for block in message.content], ["text"])
        self.assertTrue(message.content[0].text.strip())
        self.assertIn(message.stop_reason, {"end_turn", "max_tokens"})
        self.assertIsNone(message.stop_sequence)
        usage = message.usage
        self.assertTrue(0 < usage.output_tokens <= 32, usage)
        self.assertGreater(usage.input_tokens + usage.cache_read_input_tokens, 10, usage)
        self.assertEqual(usage.cache_creation_input_tokens, 0)

    def test_system_prompt(self):
        system = ["You are a pirate who sails the seven seas.", "Answer every question in one short line."]
        as_string = self.greedy(system="\n".join(system))
        as_blocks = self.greedy(system=[{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}} for text in system])
        # Not compared with no system prompt: smollm2's template writes a default one then.
        short = self.greedy(system="Be brief.")
        prompt = lambda message: message.usage.input_tokens + message.usage.cache_read_input_tokens
        self.assertEqual(prompt(as_string), prompt(as_blocks), "text blocks are the string, joined by newlines")
        self.assertEqual(text_of(as_string), text_of(as_blocks))
        self.assertGreater(prompt(as_string), prompt(short) + 10, "the system prompt is in the prompt")

    def test_stream_text_and_final_message(self):
        whole = self.greedy()
        with self.anthropic.messages.stream(model=MODEL, max_tokens=24, messages=QUESTION, extra_body=GREEDY) as stream:
            pieces = list(stream.text_stream)
            final = stream.get_final_message()
        self.assertGreater(len(pieces), 1, "the answer comes in pieces")
        self.assertEqual("".join(pieces), text_of(final))
        self.assertEqual(text_of(final), text_of(whole), "greedy: the stream spells the same answer")
        self.assertEqual(final.stop_reason, whole.stop_reason)
        self.assertEqual(final.usage.output_tokens, whole.usage.output_tokens)
        self.assertEqual(final.usage.input_tokens + final.usage.cache_read_input_tokens,
                         whole.usage.input_tokens + whole.usage.cache_read_input_tokens)

    def test_raw_event_sequence(self):
        events = list(self.anthropic.messages.create(model=MODEL, max_tokens=8, messages=QUESTION, stream=True, extra_body=GREEDY))
        types = [event.type for event in events]
        self.assertEqual(types[:2], ["message_start", "content_block_start"], types)  # the client drops ping
        self.assertEqual(types[-3:], ["content_block_stop", "message_delta", "message_stop"], types)
        self.assertEqual(set(types[2:-3]), {"content_block_delta"}, types)
        self.assertEqual(events[0].message.content, [])
        self.assertIsNone(events[0].message.stop_reason)
        self.assertEqual((events[1].index, events[1].content_block.type, events[1].content_block.text), (0, "text", ""))
        self.assertEqual(events[-2].delta.stop_reason, self.greedy(max_tokens=8).stop_reason)
        self.assertTrue(0 < events[-2].usage.output_tokens <= 8, events[-2].usage)

    def test_stop_sequence_reports_the_string_that_matched(self):
        free = text_of(self.greedy())
        words = [word for word in "".join(c if c.isalpha() else " " for c in free).split() if len(word) >= 3]
        self.assertGreaterEqual(len(words), 2, f"too short an answer to stop in: {free!r}")
        stop = words[1]
        expected = free[:free.index(stop)]
        stopped = self.greedy(stop_sequences=["zzqx", stop])
        self.assertEqual((stopped.stop_reason, stopped.stop_sequence), ("stop_sequence", stop))
        self.assertEqual(text_of(stopped), expected)
        with self.anthropic.messages.stream(model=MODEL, max_tokens=24, messages=QUESTION, stop_sequences=[stop],
                                            extra_body=GREEDY) as stream:
            final = stream.get_final_message()
        self.assertEqual((final.stop_reason, final.stop_sequence, text_of(final)), ("stop_sequence", stop, expected))

    def test_max_tokens(self):
        message = self.greedy(max_tokens=3)
        self.assertEqual(message.stop_reason, "max_tokens")
        self.assertEqual(message.usage.output_tokens, 3)

    def test_count_tokens(self):
        system = "You are terse."
        counted = self.anthropic.messages.count_tokens(model=MODEL, messages=QUESTION, system=system)
        message = self.greedy(system=system, max_tokens=1)
        self.assertEqual(counted.input_tokens, message.usage.input_tokens + message.usage.cache_read_input_tokens)
        prefilled = QUESTION + [{"role": "assistant", "content": "Red, green"}]
        self.assertGreater(self.anthropic.messages.count_tokens(model=MODEL, messages=prefilled, system=system).input_tokens,
                           counted.input_tokens, "a prefill's tokens are part of the prompt")

    def test_prefill_is_continued(self):
        prefilled = QUESTION + [{"role": "assistant", "content": "1. Red\n2."}]
        message = self.greedy(messages=prefilled, max_tokens=12)
        self.assertFalse(text_of(message).startswith("1. Red"), "the answer holds what follows the prefill, not the prefill")
        self.assertTrue(text_of(message).strip())

    def test_unknown_model_is_not_found(self):
        with self.assertRaises(anthropic.NotFoundError) as caught:
            self.anthropic.messages.create(model="no-such-model:1b", max_tokens=8, messages=CHAT)
        self.assertEqual(caught.exception.status_code, 404)
        self.assertEqual(caught.exception.body["type"], "error")
        self.assertEqual(caught.exception.body["error"]["type"], "not_found_error")
        with self.assertRaises(anthropic.NotFoundError):
            self.anthropic.messages.count_tokens(model="no-such-model:1b", messages=CHAT)

    def test_bad_fields_are_bad_requests_naming_them(self):
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
        cases = [
            (dict(extra_body={"temperature": 3}), "temperature"),
            (dict(messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]), "messages[0].content[1]"),
            (dict(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools[0].type"),
            (dict(tool_choice={"type": "any"}), "tool_choice"),
        ]
        for arguments, field in cases:
            with self.subTest(field=field):
                parameters = dict(model=MODEL, max_tokens=8, messages=CHAT)
                parameters.update(arguments)
                with self.assertRaises(anthropic.BadRequestError) as caught:
                    self.anthropic.messages.create(**parameters)
                self.assertEqual(caught.exception.body["error"]["type"], "invalid_request_error")
                self.assertIn(field, caught.exception.body["error"]["message"])


class AnthropicToolTests(AnthropicClientCase):
    models = (TOOL_MODEL,)
    TOOLS = anthropic_tools(PROMPTS[0]["tools"])
    MAX_TOKENS = 200

    def ask(self, messages, stream, **parameters):
        """The final message, from `messages.create` or accumulated by `messages.stream`."""
        arguments = dict(model=TOOL_MODEL, max_tokens=self.MAX_TOKENS, messages=messages, tools=self.TOOLS, extra_body=GREEDY)
        arguments.update(parameters)
        if not stream:
            return self.anthropic.messages.create(**arguments)
        with self.anthropic.messages.stream(**arguments) as events:
            return events.get_final_message()

    def check_calls(self, message, context):
        """Every tool_use names an offered tool and carries input valid against its schema."""
        uses = tool_uses(message)
        for use in uses:
            schema = tool_schema(PROMPTS[0]["tools"], use.name)
            self.assertIsNotNone(schema, f"called a tool that was not offered: {use.name}\n{context}")
            self.assertTrue(use.id.startswith("toolu_"), use.id)
            errors = argument_errors(schema, use.input)
            self.assertFalse(errors, f"input of {use.name} does not validate: {errors}\n{context}")
        if uses:
            self.assertEqual(message.stop_reason, "tool_use", context)
        return uses

    def test_named_tool_then_its_result(self):
        case = PROMPTS[0]
        for stream in (False, True):
            with self.subTest(stream=stream):
                messages = [{"role": "user", "content": case["prompt"]}]
                called = self.ask(messages, stream, tool_choice={"type": "tool", "name": case["expected_tool"]})
                context = f"{'streamed' if stream else 'whole'}: {called.to_json()}"
                uses = self.check_calls(called, context)
                self.assertEqual([use.name for use in uses], [case["expected_tool"]], context)
                messages += [called.to_param(), {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": uses[0].id, "content": json.dumps(case["tool_result"])}]}]
                answer = self.ask(messages, stream)
                context = f"second turn, {'streamed' if stream else 'whole'}: {answer.to_json()}"
                self.assertEqual(tool_uses(answer), [], f"the model called a tool again instead of answering\n{context}")
                self.assertTrue(text_of(answer).strip(), context)
                self.assertEqual(answer.stop_reason, "end_turn", context)

    def test_any_always_calls_a_tool(self):
        for stream, single in ((False, True), (True, False)):
            with self.subTest(stream=stream, disable_parallel_tool_use=single):
                message = self.ask([{"role": "user", "content": CHITCHAT}], stream,
                                   tool_choice={"type": "any", "disable_parallel_tool_use": single})
                uses = self.check_calls(message, message.to_json())
                self.assertGreaterEqual(len(uses), 1, message.to_json())
                if single:
                    self.assertEqual(len(uses), 1, message.to_json())

    def test_auto_picks_the_right_tool(self):
        right, report = 0, []
        for index, case in enumerate(PROMPTS):
            stream = index % 2 == 1
            message = self.ask([{"role": "user", "content": case["prompt"]}], stream)
            uses = self.check_calls(message, f"{case['prompt']!r}: {message.to_json()}")
            chosen = uses[0].name if uses else None
            right += chosen == case["expected_tool"]
            report.append(f"{'ok  ' if chosen == case['expected_tool'] else 'MISS'} wanted {case['expected_tool']}, got "
                          f"{chosen or repr(text_of(message))[:100]}")
        self.assertGreaterEqual(right / len(PROMPTS), AUTO_THRESHOLD,
                                f"tool_choice auto: the right tool for {right}/{len(PROMPTS)} prompts:\n" + "\n".join(report))

    def test_none_gives_text(self):
        message = self.ask([{"role": "user", "content": PROMPTS[0]["prompt"]}], False, tool_choice={"type": "none"}, max_tokens=48)
        self.assertEqual(tool_uses(message), [], message.to_json())
        self.assertTrue(text_of(message).strip(), message.to_json())


class AnthropicAuthTests(ServerTestCase):
    KEY = "hearth-test-key-8d2e"
    server_arguments = ("--api-key", KEY)

    def client(self, key):
        client = anthropic.Anthropic(base_url=self.base, api_key=key)
        self.addCleanup(client.close)
        return client

    def test_right_key_is_accepted(self):
        counted = self.client(self.KEY).messages.count_tokens(model=MODEL, messages=CHAT)
        self.assertGreater(counted.input_tokens, 5)

    def test_wrong_key_is_rejected_in_anthropics_shape(self):
        with self.assertRaises(anthropic.AuthenticationError) as caught:
            self.client("wrong-key").messages.count_tokens(model=MODEL, messages=CHAT)
        self.assertEqual(caught.exception.body["error"]["type"], "authentication_error")

    def test_x_api_key_header(self):
        body = {"model": MODEL, "messages": CHAT}
        for key, expected in ((self.KEY, 200), ("wrong-key", 401)):
            status, _, text = request(self.port, "POST", "/v1/messages/count_tokens", body,
                                      headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
            self.assertEqual(status, expected, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
