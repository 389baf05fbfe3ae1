"""Tool calls end to end through the official clients, with qwen2.5-coder:1.5b.

The prompts are Tests/clients/tool_prompts.json: each a clearly tool-wanting request, several
OpenAI tool definitions, the tool it wants and the arguments expected (null: any value), and a
tool result for the second turn. CI sends CI_PROMPTS, all with one shared tool list (see
SHARED_TOOLS: the server's prefix cache then computes the long tool preamble once);
scripts/eval-structured.py sends every prompt with its own tools. What is checked:

- `tool_choice: "required"` and a named tool always give a call (the named one, exactly once)
  whose arguments validate against the tool's JSON schema, with finish_reason "tool_calls";
  `"none"` gives text and no call;
- `auto` picks the right tool for at least AUTO_THRESHOLD of the prompts, and every call it does
  make names an offered tool with valid arguments;
- streamed calls accumulate from `delta.tool_calls` exactly as OpenAI apps do it (by index; id,
  type and name once, arguments concatenated);
- the `ollama` client's `message.tool_calls` (function.name, function.arguments as a dict);
- the tool's result fed back (assistant message with tool_calls, then a `tool` message) gives a
  final assistant answer with content, on both routes.

    HEARTH_BIN, HEARTH_TEST_HOME   as in test_clients.py (the store must hold qwen2.5-coder:1.5b)

Run: scripts/test-clients -k Tool, or python3 -m unittest -v Tests/clients/test_tools.py
"""

import copy
import json
import unittest
from pathlib import Path

import jsonschema
from ollama._types import Tool as OllamaTool

from test_clients import ModelClientsTestCase

# Draft 2020-12's own format checker: a bare jsonschema.FormatChecker() holds every draft's
# checkers, and draft 3's "time" (HH:MM:SS, no offset) replaces RFC 3339's full-time there.
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

MODEL = "qwen2.5-coder:1.5b"
ALL_PROMPTS = json.loads((Path(__file__).resolve().parent / "tool_prompts.json").read_text(encoding="utf-8"))
MAX_TOKENS = 200
AUTO_THRESHOLD = 0.7
# The prompts CI sends (scripts/eval-structured.py sends them all, each with its own tool list).
CI_PROMPTS = [0, 1, 2, 4, 6, 9, 10, 11, 14, 15]


def shared_tools(prompts):
    """The expected tools of `prompts`, each once, in order of first appearance."""
    tools, seen = [], set()
    for case in prompts:
        for tool in case["tools"]:
            if tool["function"]["name"] == case["expected_tool"] and case["expected_tool"] not in seen:
                seen.add(case["expected_tool"])
                tools.append(tool)
    return tools


# Every CI request offers the same tools in the same order: the tool list is most of the prompt
# (hundreds of tokens in the chat template's system part), and a shared one is computed once and
# then comes from the server's prefix cache; per-prompt lists would cost a full prefill each.
SHARED_TOOLS = shared_tools([ALL_PROMPTS[index] for index in CI_PROMPTS])
PROMPTS = [dict(ALL_PROMPTS[index], tools=SHARED_TOOLS) for index in CI_PROMPTS]
# Which of PROMPTS the (costlier) forced-choice tests use: spread over the tools.
REQUIRED_CASES = [0, 3, 6]
NAMED_CASES = [2, 7]
MISNAMED = (4, "get_weather")  # a named tool that does not fit the request is still the one called
TWO_TURN_CASES = {"openai": 0, "ollama": 3}
# A request that wants no tool, for tool_choice "required" and a named tool forced onto it.
CHITCHAT = "Tell me a fun fact about octopuses."


def tool_schema(tools, name):
    for tool in tools:
        if tool["function"]["name"] == name:
            return tool["function"]["parameters"]
    return None


def ollama_sent_tools(tools):
    """The tools as the ollama client actually sends them: its `Tool` model keeps only some
    fields of each property (type, items, description, enum), so patterns, formats and bounds
    never reach the server and cannot be held against its answer."""
    return [OllamaTool.model_validate(tool).model_dump(exclude_none=True, by_alias=True) for tool in tools]


def argument_errors(schema, arguments):
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return [f"at {error.json_path}: {error.message}" for error in validator.iter_errors(arguments)]


class ToolCallTests(ModelClientsTestCase):
    models = (MODEL,)

    # MARK: requests

    def openai_call(self, messages, tools, stream, **parameters):
        """(content, [{"id", "type", "name", "arguments" (text)}], finish_reason) of one chat
        completion; streamed deltas are accumulated as OpenAI's own examples do."""
        arguments = dict(model=MODEL, messages=messages, tools=tools, max_tokens=MAX_TOKENS, temperature=0, seed=7)
        arguments.update(parameters)
        if not stream:
            choice = self.openai.chat.completions.create(**arguments).choices[0]
            calls = [{"id": call.id, "type": call.type, "name": call.function.name, "arguments": call.function.arguments}
                     for call in choice.message.tool_calls or []]
            return choice.message.content, calls, choice.finish_reason
        content, calls, finish_reason = "", {}, None
        for chunk in self.openai.chat.completions.create(stream=True, **arguments):
            for choice in chunk.choices:
                content += choice.delta.content or ""
                finish_reason = choice.finish_reason or finish_reason
                for delta in choice.delta.tool_calls or []:
                    if delta.index not in calls:
                        # The first delta of a call carries its id, type and name.
                        self.assertTrue(delta.id, f"the first delta of tool call {delta.index} has no id: {delta}")
                        self.assertEqual(delta.type, "function", f"first delta of tool call {delta.index}: {delta}")
                        self.assertTrue(delta.function and delta.function.name, f"first delta of tool call {delta.index} has no name: {delta}")
                        calls[delta.index] = {"id": delta.id, "type": delta.type, "name": delta.function.name, "arguments": ""}
                    else:
                        # Apps that keep the first id and name, and those that concatenate every
                        # name fragment, must both end up with the right name: later deltas carry none.
                        self.assertFalse(delta.id, f"tool call {delta.index}: id repeated in a later delta: {delta}")
                        self.assertFalse(delta.function and delta.function.name,
                                         f"tool call {delta.index}: name repeated in a later delta: {delta}")
                    if delta.function and delta.function.arguments:
                        calls[delta.index]["arguments"] += delta.function.arguments
        self.assertEqual(sorted(calls), list(range(len(calls))), "tool call indexes must count from 0")
        return content or None, [calls[index] for index in sorted(calls)], finish_reason

    def ollama_call(self, messages, tools, stream):
        """(content, [{"name", "arguments" (dict)}], done_reason) through the ollama client."""
        options = {"temperature": 0, "num_predict": MAX_TOKENS, "seed": 7}
        if not stream:
            response = self.ollama.chat(model=MODEL, messages=messages, tools=tools, options=options)
            parts = [response]
        else:
            parts = list(self.ollama.chat(model=MODEL, messages=messages, tools=tools, options=options, stream=True))
            self.assertTrue(parts[-1].done)
        content = "".join(part.message.content or "" for part in parts)
        calls = []
        for part in parts:
            for call in part.message.tool_calls or []:
                self.assertIsInstance(call.function.arguments, dict, f"function.arguments must be an object: {call}")
                calls.append({"name": call.function.name, "arguments": dict(call.function.arguments)})
        return content, calls, parts[-1].done_reason

    def call(self, route, stream, case, **parameters):
        """Sends a prompt with its tools; returns (content, calls with parsed arguments, finish
        reason, context for messages). Every call must name an offered tool and carry arguments
        that validate against that tool's schema (as sent: see ollama_sent_tools)."""
        messages = [{"role": "user", "content": case["prompt"]}]
        tools = case["tools"]
        if route == "openai":
            content, calls, finish_reason = self.openai_call(messages, tools, stream, **parameters)
        else:
            content, calls, finish_reason = self.ollama_call(messages, tools, stream)
            tools = ollama_sent_tools(tools)
        context = (f"model {MODEL}, route {route} ({'streamed' if stream else 'not streamed'}), "
                   f"{', '.join(f'{key} {json.dumps(value)}' for key, value in parameters.items()) or 'tool_choice auto'}, "
                   f"prompt {case['prompt']!r}\nraw output: content {content!r}, tool calls {json.dumps(calls, ensure_ascii=False)}, "
                   f"finish reason {finish_reason!r}")
        for call in calls:
            schema = tool_schema(tools, call["name"])
            self.assertIsNotNone(schema, f"called a tool that was not offered: {call['name']!r}\n{context}")
            if route == "openai":
                self.assertTrue(call["id"], f"tool call without an id\n{context}")
                self.assertEqual(call["type"], "function", context)
                try:
                    call["arguments"] = json.loads(call["arguments"])
                except json.JSONDecodeError as error:
                    self.fail(f"arguments of {call['name']} are not JSON ({error})\n{context}")
            self.assertIsInstance(call["arguments"], dict, f"arguments of {call['name']} are not an object\n{context}")
            errors = argument_errors(schema, call["arguments"])
            self.assertFalse(errors, f"arguments of {call['name']} do not validate:\n  " + "\n  ".join(errors) + f"\n{context}")
        if route == "openai" and calls:
            self.assertEqual(finish_reason, "tool_calls", context)
        return content, calls, finish_reason, context

    # MARK: tool_choice

    def test_auto_picks_the_right_tool(self):
        routes = [("openai", False), ("openai", True), ("ollama", False), ("ollama", True)]
        right, report = 0, []
        for index, case in enumerate(PROMPTS):
            route, stream = routes[index % len(routes)]
            with self.subTest(prompt=case["prompt"], route=route, stream=stream):
                content, calls, finish_reason, context = self.call(route, stream, case)
                chosen = calls[0]["name"] if calls else None
                good = chosen == case["expected_tool"]
                right += good
                report.append(f"{'ok  ' if good else 'MISS'} {route}{' stream' if stream else ''}: wanted {case['expected_tool']}, "
                              f"got {chosen or 'no call'} {json.dumps(calls[0]['arguments'], ensure_ascii=False) if calls else repr(content)[:120]}")
        score = right / len(PROMPTS)
        self.assertGreaterEqual(score, AUTO_THRESHOLD, f"model {MODEL}, tool_choice auto: the right tool for {right}/{len(PROMPTS)} "
                                                       f"prompts, below {AUTO_THRESHOLD:.0%}:\n" + "\n".join(report))

    def test_required_always_calls_a_tool(self):
        cases = [PROMPTS[index] for index in REQUIRED_CASES]
        cases.append(dict(PROMPTS[1], prompt=CHITCHAT))
        for number, case in enumerate(cases):
            stream = number % 2 == 1
            single = number % 2 == 0
            parameters = {"tool_choice": "required"}
            if single:
                parameters["parallel_tool_calls"] = False
            with self.subTest(prompt=case["prompt"], stream=stream, parallel_tool_calls=not single):
                content, calls, finish_reason, context = self.call("openai", stream, case, **parameters)
                self.assertGreaterEqual(len(calls), 1, f"tool_choice required gave no tool call\n{context}")
                if single:
                    self.assertEqual(len(calls), 1, f"parallel_tool_calls false gave several calls\n{context}")

    def test_named_tool_is_called_exactly_once(self):
        forced = [(PROMPTS[index], PROMPTS[index]["expected_tool"]) for index in NAMED_CASES]
        forced.append((PROMPTS[MISNAMED[0]], MISNAMED[1]))
        forced.append((dict(PROMPTS[1], prompt=CHITCHAT), "search_web"))
        for number, (case, name) in enumerate(forced):
            stream = number % 2 == 0
            choice = {"type": "function", "function": {"name": name}}
            with self.subTest(prompt=case["prompt"], tool=name, stream=stream):
                content, calls, finish_reason, context = self.call("openai", stream, case, tool_choice=choice)
                self.assertEqual([call["name"] for call in calls], [name], f"the named tool was not called exactly once\n{context}")

    def test_none_gives_text(self):
        case = PROMPTS[0]
        for stream in (False, True):
            with self.subTest(stream=stream):
                content, calls, finish_reason, context = self.call("openai", stream, case, tool_choice="none", max_tokens=48)
                self.assertEqual(calls, [], f"tool_choice none gave a tool call\n{context}")
                self.assertTrue(content and content.strip(), f"tool_choice none gave no text\n{context}")
                self.assertIn(finish_reason, {"stop", "length"}, context)

    # MARK: the second turn

    def test_openai_tool_result_gives_final_answer(self):
        case = PROMPTS[TWO_TURN_CASES["openai"]]
        choice = {"type": "function", "function": {"name": case["expected_tool"]}}
        for stream in (False, True):
            with self.subTest(stream=stream):
                _, calls, _, context = self.call("openai", stream, case, tool_choice=choice)
                self.assertEqual(len(calls), 1, context)
                call = calls[0]
                messages = [
                    {"role": "user", "content": case["prompt"]},
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": call["id"], "type": "function",
                         "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}]},
                    {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(case["tool_result"])},
                ]
                content, calls, finish_reason = self.openai_call(messages, case["tools"], stream)
                context = (f"model {MODEL}, route openai ({'streamed' if stream else 'not streamed'}), second turn of "
                           f"{case['prompt']!r} with result {json.dumps(case['tool_result'])}\n"
                           f"raw output: content {content!r}, tool calls {calls}, finish reason {finish_reason!r}")
                self.assertEqual(calls, [], f"the model called a tool again instead of answering\n{context}")
                self.assertTrue(content and content.strip(), f"no final answer\n{context}")
                self.assertEqual(finish_reason, "stop", context)

    def test_ollama_tool_result_gives_final_answer(self):
        case = PROMPTS[TWO_TURN_CASES["ollama"]]
        for stream in (False, True):
            with self.subTest(stream=stream):
                content, calls, _, context = self.call("ollama", stream, case)
                self.assertGreaterEqual(len(calls), 1, f"no tool call to answer\n{context}")
                call = calls[0]
                messages = [
                    {"role": "user", "content": case["prompt"]},
                    {"role": "assistant", "content": content or "", "tool_calls": [
                        {"function": {"name": call["name"], "arguments": call["arguments"]}}]},
                    {"role": "tool", "content": json.dumps(case["tool_result"]), "tool_name": call["name"]},
                ]
                content, calls, finish_reason = self.ollama_call(messages, case["tools"], stream)
                context = (f"model {MODEL}, route ollama ({'streamed' if stream else 'not streamed'}), second turn of "
                           f"{case['prompt']!r} with result {json.dumps(case['tool_result'])}\n"
                           f"raw output: content {content!r}, tool calls {calls}, done reason {finish_reason!r}")
                self.assertEqual(calls, [], f"the model called a tool again instead of answering\n{context}")
                self.assertTrue(content.strip(), f"no final answer\n{context}")
                self.assertEqual(finish_reason, "stop", context)


class ToolPromptFileTests(unittest.TestCase):
    """tool_prompts.json itself (no server)."""

    def test_prompt_file(self):
        self.assertGreaterEqual(len(ALL_PROMPTS), 12)
        self.assertEqual(len(SHARED_TOOLS), len({case["expected_tool"] for case in PROMPTS}))
        self.assertNotEqual(PROMPTS[MISNAMED[0]]["expected_tool"], MISNAMED[1])
        self.assertIsNotNone(tool_schema(SHARED_TOOLS, MISNAMED[1]))
        for case in ALL_PROMPTS:
            with self.subTest(prompt=case["prompt"]):
                names = [tool["function"]["name"] for tool in case["tools"]]
                self.assertGreaterEqual(len(names), 2)
                self.assertIn(case["expected_tool"], names)
                for tool in case["tools"]:
                    self.assertEqual(tool["type"], "function")
                    jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
                schema = tool_schema(case["tools"], case["expected_tool"])
                self.assertTrue(set(case["expected_arguments"]) <= set(schema["properties"]))
                # Expected values that are given must themselves be valid arguments.
                given = {key: value for key, value in case["expected_arguments"].items() if value is not None}
                partial = copy.deepcopy(schema)
                partial["required"] = []
                self.assertFalse(argument_errors(partial, given), given)


if __name__ == "__main__":
    unittest.main(verbosity=2)
