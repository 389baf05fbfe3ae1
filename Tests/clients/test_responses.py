"""OpenAI's Responses API (`POST /v1/responses`) end to end, through the official `openai` SDK on
its default settings and through the OpenAI Agents SDK (`openai-agents`), which calls it by default.

- text: `output_text` of a whole response, with `instructions`, streamed with
  `responses.create(stream=True)` and with the `responses.stream(...)` helper (the same greedy
  answer every way), and `text.format` json_schema (and `responses.parse`) giving valid JSON;
- stored responses: `previous_response_id` continues a conversation, `retrieve`,
  `input_items.list`, `delete`, and an `item_reference` stands for a stored answer;
- errors: an unknown model is `openai.NotFoundError`, an image input a `BadRequestError` naming it;
- function tools on qwen2.5-coder:1.5b (the prompts and tools of test_tools.py, flattened into the
  Responses API's shape): a forced call, streamed and whole, with arguments valid against the
  tool's schema, and the `function_call_output` round trip, both by sending the whole history and
  by `previous_response_id`;
- an Agents SDK `Agent` with a `@function_tool`, run with `Runner.run_sync` (and streamed) against
  Hearth through `AsyncOpenAI(base_url=…)` + `set_default_openai_client`, as its docs tell users
  of other providers to do.

    HEARTH_BIN, HEARTH_TEST_HOME   as in test_clients.py

Run: python3 -m unittest discover -s Tests/clients -p 'test_responses.py' -v
"""

import asyncio
import json
import unittest

import jsonschema
import openai
import pydantic
from agents import Agent, ModelSettings, Runner, function_tool, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

from test_clients import ModelClientsTestCase
from test_tools import ALL_PROMPTS, FORMAT_CHECKER

SMALL = "smollm2:135m"
TOOLS_MODEL = "qwen2.5-coder:1.5b"
QUESTION = "What is the capital of France? Answer in one sentence."
# test_tools.py's weather prompt, with its own four tools (test_tools.py offers every CI prompt's
# tools at once; four keep this suite's prompts short).
WEATHER = ALL_PROMPTS[0]
# The first request of a model computes its whole prompt (the tools' preamble is most of it),
# which can take minutes on a busy 2-core machine; later ones reuse it from the prefix cache.
COLD_PROMPT_TIMEOUT = 600
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}, "population": {"type": "integer", "minimum": 0}},
    "required": ["city", "population"],
    "additionalProperties": False,
}


def flat_tools(tools):
    """Chat completions' `{"type": "function", "function": {…}}` as the Responses API has it:
    `{"type": "function", "name", "description", "parameters"}`."""
    return [{"type": "function", **tool["function"]} for tool in tools]


def tool_schema(tools, name):
    return next(tool["parameters"] for tool in tools if tool["name"] == name)


class City(pydantic.BaseModel):
    city: str
    population: int


class ResponsesClientTests(ModelClientsTestCase):
    models = (SMALL, TOOLS_MODEL)

    def greedy(self, **parameters):
        arguments = dict(model=SMALL, input=QUESTION, temperature=0, max_output_tokens=24)
        arguments.update(parameters)
        return self.openai.responses.create(**arguments)

    # MARK: text

    def test_output_text(self):
        response = self.greedy()
        self.assertEqual(response.object, "response")
        self.assertTrue(response.id.startswith("resp_"), response.id)
        self.assertEqual(response.model, SMALL)
        self.assertIn(response.status, {"completed", "incomplete"})
        self.assertTrue(response.output_text.strip(), f"empty output_text: {response}")
        message = response.output[0]
        self.assertEqual((message.type, message.role), ("message", "assistant"))
        self.assertEqual(message.content[0].type, "output_text")
        usage = response.usage
        self.assertGreater(usage.input_tokens, 5)
        self.assertTrue(0 < usage.output_tokens <= 24, usage)
        self.assertEqual(usage.total_tokens, usage.input_tokens + usage.output_tokens)
        self.assertEqual(usage.output_tokens_details.reasoning_tokens, 0)
        self.assertIsNone(response.error)
        self.assertEqual((response.temperature, response.max_output_tokens, response.tools), (0, 24, []))

    def test_instructions_are_a_system_message(self):
        short = self.greedy(instructions="Answer briefly.")
        longer = self.greedy(instructions="You are a geography teacher who knows every capital city. Answer briefly.")
        self.assertEqual(short.instructions, "Answer briefly.")
        self.assertIsNone(self.greedy(max_output_tokens=1).instructions)
        self.assertTrue(longer.output_text.strip())
        # smollm2's template puts a default system prompt where no system message is given, so
        # the instructions are compared with each other, not with none.
        self.assertGreater(longer.usage.input_tokens, short.usage.input_tokens + 8, "the instructions are part of the prompt")

    def test_streamed_events(self):
        whole = self.greedy()
        events = list(self.greedy(stream=True))
        types = [event.type for event in events]
        self.assertEqual(types[:2], ["response.created", "response.in_progress"])
        self.assertIn(types[-1], {"response.completed", "response.incomplete"})
        self.assertEqual([event.sequence_number for event in events], list(range(len(events))))
        deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
        self.assertEqual(deltas, whole.output_text, "greedy: the stream spells the same answer")
        final = events[-1].response
        self.assertEqual(final.output_text, whole.output_text)
        self.assertEqual(final.id, events[0].response.id)
        self.assertEqual(final.usage.output_tokens, whole.usage.output_tokens)
        done = [event for event in events if event.type == "response.output_text.done"]
        self.assertEqual([event.text for event in done], [whole.output_text])

    def test_stream_helper(self):
        whole = self.greedy()
        deltas = []
        with self.openai.responses.stream(model=SMALL, input=QUESTION, temperature=0, max_output_tokens=24) as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
            final = stream.get_final_response()
        self.assertEqual("".join(deltas), whole.output_text)
        self.assertEqual(final.output_text, whole.output_text)

    def test_json_schema_format(self):
        response = self.openai.responses.create(
            model=SMALL, input="Give me a city and its population as JSON.", temperature=0, max_output_tokens=120,
            text={"format": {"type": "json_schema", "name": "city", "schema": CITY_SCHEMA, "strict": True}})
        self.assertEqual(response.status, "completed", response)
        self.assertEqual(response.text.format.type, "json_schema")
        value = json.loads(response.output_text)
        jsonschema.validate(value, CITY_SCHEMA, format_checker=FORMAT_CHECKER)
        parsed = self.openai.responses.parse(model=SMALL, input="Give me a city and its population as JSON.",
                                             temperature=0, max_output_tokens=120, text_format=City)
        self.assertIsInstance(parsed.output_parsed, City)

    # MARK: stored responses

    def test_previous_response_id_continues(self):
        first = self.openai.responses.create(model=SMALL, input="My name is Ada.", temperature=0, max_output_tokens=16)
        second = self.openai.responses.create(model=SMALL, previous_response_id=first.id, input="What is my name?",
                                              temperature=0, max_output_tokens=16)
        self.assertEqual(second.previous_response_id, first.id)
        self.assertGreater(second.usage.input_tokens, first.usage.input_tokens + first.usage.output_tokens,
                           "the first exchange is part of the second prompt")
        retrieved = self.openai.responses.retrieve(first.id)
        self.assertEqual((retrieved.id, retrieved.output_text), (first.id, first.output_text))
        items = list(self.openai.responses.input_items.list(second.id, order="asc"))
        self.assertEqual([item.role for item in items], ["user", "assistant", "user"])
        self.assertEqual(items[0].content[0].text, "My name is Ada.")
        self.assertEqual(items[1].id, first.output[0].id)
        page = self.openai.responses.input_items.list(second.id, limit=1)
        self.assertEqual(([item.id for item in page.data], page.has_more), ([items[-1].id], True), "newest first by default, paged")
        self.assertEqual([item.id for item in page], [item.id for item in reversed(items)], "the SDK pages through them all")
        self.openai.responses.delete(first.id)
        with self.assertRaises(openai.NotFoundError):
            self.openai.responses.retrieve(first.id)
        with self.assertRaises(openai.NotFoundError):
            self.openai.responses.create(model=SMALL, previous_response_id=first.id, input="Again?")
        self.assertEqual(self.openai.responses.retrieve(second.id).id, second.id)
        unstored = self.greedy(store=False, max_output_tokens=4)
        with self.assertRaises(openai.NotFoundError):
            self.openai.responses.retrieve(unstored.id)

    def test_item_reference_stands_for_a_stored_answer(self):
        # The AI SDK, storing responses as it does by default, sends earlier answers as item references.
        first = self.openai.responses.create(model=SMALL, input="My name is Ada.", temperature=0, max_output_tokens=16)
        history = [{"role": "user", "content": "My name is Ada."}]
        spelled = self.openai.responses.create(
            model=SMALL, input=[*history, {"role": "assistant", "content": first.output_text}, {"role": "user", "content": "What is my name?"}],
            temperature=0, max_output_tokens=16)
        referenced = self.openai.responses.create(
            model=SMALL, input=[*history, {"type": "item_reference", "id": first.output[0].id}, {"role": "user", "content": "What is my name?"}],
            temperature=0, max_output_tokens=16)
        self.assertEqual(referenced.usage.input_tokens, spelled.usage.input_tokens)
        self.assertEqual(referenced.output_text, spelled.output_text)
        with self.assertRaises(openai.NotFoundError) as caught:
            self.openai.responses.create(model=SMALL, input=[{"type": "item_reference", "id": "msg_unknown"}])
        self.assertEqual(caught.exception.param, "input[0].id")

    # MARK: errors

    def test_errors(self):
        with self.assertRaises(openai.NotFoundError):
            self.openai.responses.create(model="nope:1b", input="hi")
        with self.assertRaises(openai.BadRequestError) as caught:
            self.openai.responses.create(model=SMALL, input=[{"role": "user", "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}])
        self.assertEqual(caught.exception.param, "input[0].content[0].type")
        with self.assertRaises(openai.BadRequestError) as caught:
            self.openai.responses.create(model=SMALL, input="hi", tools=[{"type": "web_search"}])
        self.assertEqual(caught.exception.param, "tools[0].type")

    # MARK: function tools (qwen2.5-coder:1.5b)

    def check_call(self, call, tools, name, context):
        self.assertEqual(call.type, "function_call", context)
        self.assertEqual(call.name, name, context)
        self.assertTrue(call.call_id and call.id, context)
        self.assertEqual(call.status, "completed", context)
        arguments = json.loads(call.arguments)
        validator = jsonschema.Draft202012Validator(tool_schema(tools, name), format_checker=FORMAT_CHECKER)
        self.assertEqual([error.message for error in validator.iter_errors(arguments)], [], context)
        return arguments

    def test_function_call_round_trip(self):
        case = WEATHER
        tools = flat_tools(case["tools"])
        name = case["expected_tool"]
        settings = dict(model=TOOLS_MODEL, tools=tools, temperature=0, max_output_tokens=200)
        forced = self.openai.with_options(timeout=COLD_PROMPT_TIMEOUT).responses.create(
            input=case["prompt"], tool_choice={"type": "function", "name": name}, **settings)
        calls = [item for item in forced.output if item.type == "function_call"]
        self.assertEqual(len(calls), 1, forced.output)
        arguments = self.check_call(calls[0], tools, name, f"whole: {forced.output}")

        # Streamed, the same call: announced by output_item.added, its arguments in deltas.
        events = list(self.openai.responses.create(input=case["prompt"], tool_choice={"type": "function", "name": name},
                                                   stream=True, **settings))
        added = [event.item for event in events if event.type == "response.output_item.added"]
        self.assertEqual([(item.type, item.name) for item in added], [("function_call", name)])
        streamed = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
        self.assertEqual(json.loads(streamed), arguments, "greedy: the same arguments")
        self.assertEqual(events[-1].type, "response.completed")
        self.check_call(events[-1].response.output[0], tools, name, f"streamed: {events[-1].response.output}")

        # The tool's result, sent back with the whole history (the output items as they came)…
        result = {"type": "function_call_output", "call_id": calls[0].call_id, "output": json.dumps(case["tool_result"])}
        history = [{"role": "user", "content": case["prompt"]}, *forced.output, result]
        answer = self.openai.responses.create(input=history, **settings)
        self.assertEqual([item.type for item in answer.output], ["message"], f"the model did not answer in text: {answer.output}")
        self.assertTrue(answer.output_text.strip())
        # …and by previous_response_id, streamed.
        events = list(self.openai.responses.create(previous_response_id=forced.id, input=[result], stream=True, **settings))
        final = events[-1].response
        self.assertEqual(events[-1].type, "response.completed")
        self.assertEqual([item.type for item in final.output], ["message"], f"the model did not answer in text: {final.output}")
        self.assertEqual("".join(event.delta for event in events if event.type == "response.output_text.delta"), final.output_text)

    # MARK: the OpenAI Agents SDK

    def agent(self, calls):
        @function_tool
        def get_weather(city: str) -> str:
            """Get the current weather for a city."""
            calls.append(city)
            return json.dumps(WEATHER["tool_result"])

        return Agent(name="Weather assistant", model=TOOLS_MODEL, tools=[get_weather],
                     instructions="You answer questions about the weather. Always use the get_weather tool.",
                     model_settings=ModelSettings(temperature=0, max_tokens=200))

    def use_hearth(self):
        client = AsyncOpenAI(base_url=f"{self.base}/v1", api_key="unused", max_retries=0, timeout=COLD_PROMPT_TIMEOUT)
        set_default_openai_client(client, use_for_tracing=False)
        set_tracing_disabled(True)
        return client

    def test_agents_sdk_run_sync(self):
        client = self.use_hearth()
        calls = []
        result = Runner.run_sync(self.agent(calls), "What's the weather in Paris?")
        # run_sync runs on the thread's default event loop and leaves it open, with the client's connections.
        loop = asyncio.get_event_loop()
        loop.run_until_complete(client.close())
        loop.close()
        asyncio.set_event_loop(None)
        self.assertEqual(calls, ["Paris"], f"the tool was not called once with Paris: {result.new_items}")
        self.assertIn("18", result.final_output, f"the answer does not use the tool's result: {result.final_output!r}")

    def test_agents_sdk_streamed(self):
        calls = []

        async def run():
            client = self.use_hearth()
            streamed = Runner.run_streamed(self.agent(calls), "What's the weather in Rome?")
            # The text deltas of each model response, in order (the last is the final answer).
            responses = []
            async for event in streamed.stream_events():
                if event.type == "raw_response_event" and event.data.type == "response.created":
                    responses.append("")
                elif event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                    responses[-1] += event.data.delta
            await client.close()
            return streamed.final_output, responses

        final_output, responses = asyncio.run(run())
        self.assertEqual(calls, ["Rome"])
        self.assertGreaterEqual(len(responses), 2, "a call, then the answer")
        self.assertIn("18", final_output)
        self.assertEqual(responses[-1], final_output, "the streamed text is the final answer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
