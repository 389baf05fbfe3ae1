"""Structured output end to end: JSON schemas, JSON mode and their errors, through the official clients.

Every schema in Tests/clients/schemas/ (`{"name", "prompt", "schema"}`) is sent once per model
(qwen2.5-coder:0.5b and smollm2:135m) to a live `hearth serve`, and the answer must parse and
validate against the schema (jsonschema's Draft 2020-12 validator, formats checked). The route
and stream mode rotate per schema — OpenAI `response_format: json_schema` (strict) through the
`openai` client, Ollama `format: <schema>` through the `ollama` client, each streamed and not —
and so does the temperature (0, or the client's default), so every combination is covered many
times while each schema costs one generation per model. The full matrix (every schema × route ×
stream mode, with rates and speed) is scripts/eval-structured.py's job, not CI's.

Also: the openai client's pydantic helpers (`chat.completions.parse`, `beta.chat.completions.parse`,
`chat.completions.stream`), JSON mode (`json_object`, Ollama `format: "json"`), a 400 that names
an unsupported keyword's path, and `text` / `format: ""` meaning no constraint.

    HEARTH_BIN, HEARTH_TEST_HOME   as in test_clients.py (the store must hold both models)

Run: scripts/test-clients -k Structured, or python3 -m unittest -v Tests/clients/test_structured.py
"""

import json
import re
import time
import unittest
from pathlib import Path
from typing import List, Literal, Optional

import jsonschema
import ollama
import openai
import pydantic

from test_clients import ModelClientsTestCase

# Draft 2020-12's own format checker: a bare jsonschema.FormatChecker() holds every draft's
# checkers, and draft 3's "time" (HH:MM:SS, no offset) replaces RFC 3339's full-time there.
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

MODELS = ["qwen2.5-coder:0.5b", "smollm2:135m"]
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
MAX_TOKENS = 400
# (route, streamed): rotated per schema so all four are exercised.
COMBINATIONS = [("openai", False), ("ollama", True), ("openai", True), ("ollama", False)]


def load_schemas(directory=SCHEMA_DIR):
    cases = []
    for path in sorted(directory.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["file"] = path.stem
        cases.append(case)
    return cases


SCHEMAS = load_schemas()


def schema_errors(schema, instance):
    """What is wrong with `instance` under `schema` (empty when it validates), formats included."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return [f"at {error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


def is_recursive(schema):
    """Whether a `$ref` leads back to a schema that contains it (`#`, or a `$defs` entry reaching
    itself): no bound on items or lengths then bounds the answer's depth."""
    def refs(node):
        if isinstance(node, dict):
            found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
            return found.union(*(refs(value) for key, value in node.items() if key != "$defs"))
        if isinstance(node, list):
            return set().union(*(refs(value) for value in node))
        return set()
    definitions = {f"#/$defs/{name}": body for name, body in (schema.get("$defs") or {}).items()}
    if "#" in refs(schema) or any("#" in refs(body) for body in definitions.values()):
        return True
    for start in definitions:
        seen, pending = set(), set(refs(definitions[start]))
        while pending:
            ref = pending.pop()
            if ref == start:
                return True
            if ref in definitions and ref not in seen:
                seen.add(ref)
                pending |= refs(definitions[ref])
    return False


def check_json_output(test, schema, content, finish_reason, context):
    """Fails `test` unless `content` is complete JSON that validates against `schema` (None: any
    JSON object). `context` names model, route and case; every failure shows the raw output.
    An answer cut off at max_tokens fails too, except under a recursive schema: its depth has no
    bound a grammar could enforce, and a small model may nest until max_tokens (then: skipped)."""
    where = f"{context}\nfinish_reason: {finish_reason}\nraw output ({len(content or '')} chars): {content!r}"
    test.assertIsInstance(content, str, f"no content\n{where}")
    if finish_reason == "length":
        if schema is not None and is_recursive(schema):
            test.skipTest(f"cut off at max_tokens={MAX_TOKENS} under a recursive schema (the model nested without end): {where}")
        test.fail(f"output cut off at max_tokens={MAX_TOKENS}: a constrained answer should end well before "
                  f"(the grammar let the model ramble, or the schema needs tighter bounds)\n{where}")
    test.assertEqual(finish_reason, "stop", f"unexpected finish reason\n{where}")
    try:
        value = json.loads(content)
    except json.JSONDecodeError as error:
        test.fail(f"not JSON ({error})\n{where}")
    if schema is None:
        test.assertIsInstance(value, dict, f"JSON mode must give an object\n{where}")
    else:
        errors = schema_errors(schema, value)
        test.assertFalse(errors, "does not validate against the schema:\n  " + "\n  ".join(errors[:10]) + f"\n{where}")
    return value


def assert_names_path(test, message, components, context=""):
    """The error message names every component of the offending keyword's path (in any notation:
    `/properties/a/b`, `properties.a.b`, `a.b: unsupported keyword 'b'`…)."""
    for component in components:
        test.assertRegex(message, rf"(?<![A-Za-z0-9_]){re.escape(component)}(?![A-Za-z0-9_])",
                         f"the error does not name '{component}' of the path {'/'.join(components)}: {message!r} {context}")


# A keyword the grammar compiler cannot enforce, nested so the path matters.
UNIQUE_ITEMS_SCHEMA = {
    "type": "object",
    "properties": {"profile": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 3}},
        "required": ["tags"]}},
    "required": ["profile"]}
UNIQUE_ITEMS_PATH = ["properties", "profile", "tags", "uniqueItems"]
NOT_SCHEMA = {
    "type": "object",
    "properties": {"account": {"type": "object", "properties": {
        "role": {"type": "string", "maxLength": 10, "not": {"const": "admin"}}}, "required": ["role"]}},
    "required": ["account"]}
NOT_PATH = ["properties", "account", "role", "not"]


# Pydantic models as apps hand them to the openai client's parse helpers.
class CalendarEvent(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=40)
    date: str = pydantic.Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    participants: List[str] = pydantic.Field(max_length=4)


class Step(pydantic.BaseModel):
    explanation: str = pydantic.Field(max_length=80)
    output: str = pydantic.Field(max_length=30)


class MathResponse(pydantic.BaseModel):
    steps: List[Step] = pydantic.Field(max_length=4)
    final_answer: str = pydantic.Field(max_length=30)


class Contact(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=40)
    email: Optional[str] = pydantic.Field(default=None, max_length=60)
    kind: Literal["personal", "work"]


class StructuredOutputTests(ModelClientsTestCase):
    """One server holding both models; the schema tests are generated below the class."""

    models = tuple(MODELS)

    # MARK: generation through either route

    def generate(self, model, route, stream, messages, greedy, seed, openai_format=None, ollama_format=None,
                 max_tokens=MAX_TOKENS):
        """(content, finish_reason) from one chat request. `greedy` False leaves the temperature
        to the client's (the server's) default; the seed keeps a failure reproducible."""
        if route == "openai":
            arguments = dict(model=model, messages=messages, max_tokens=max_tokens, seed=seed)
            if greedy:
                arguments["temperature"] = 0
            if openai_format is not None:
                arguments["response_format"] = openai_format
            if not stream:
                choice = self.openai.chat.completions.create(**arguments).choices[0]
                return choice.message.content, choice.finish_reason
            content, finish_reason = "", None
            for chunk in self.openai.chat.completions.create(stream=True, **arguments):
                for choice in chunk.choices:
                    content += choice.delta.content or ""
                    finish_reason = choice.finish_reason or finish_reason
            return content, finish_reason
        options = {"num_predict": max_tokens, "seed": seed}
        if greedy:
            options["temperature"] = 0
        arguments = dict(model=model, messages=messages, options=options)
        if ollama_format is not None:
            arguments["format"] = ollama_format
        if not stream:
            response = self.ollama.chat(**arguments)
            return response.message.content, response.done_reason
        content, finish_reason = "", None
        for part in self.ollama.chat(stream=True, **arguments):
            content += part.message.content or ""
            if part.done:
                finish_reason = part.done_reason
        return content, finish_reason

    def run_schema_case(self, model, case, route, stream, greedy, seed):
        schema = case["schema"]
        messages = [{"role": "user", "content": case["prompt"]}]
        openai_format = {"type": "json_schema", "json_schema": {"name": case["name"], "schema": schema, "strict": True}}
        context = (f"model {model}, route {route} ({'streamed' if stream else 'not streamed'}), "
                   f"temperature {'0' if greedy else 'default'}, seed {seed}, schema {case['name']} ({case['file']}.json)")
        started = time.monotonic()
        content, finish_reason = self.generate(model, route, stream, messages, greedy, seed,
                                               openai_format=openai_format, ollama_format=schema)
        check_json_output(self, schema, content, finish_reason, context + f", {time.monotonic() - started:.1f} s")

    # MARK: the openai client's pydantic helpers

    def test_parse_pydantic(self):
        model = MODELS[0]
        completion = self.openai.chat.completions.parse(
            model=model, temperature=0, max_tokens=MAX_TOKENS, response_format=CalendarEvent,
            messages=[{"role": "system", "content": "Extract the event information."},
                      {"role": "user", "content": "Alice and Bob are going to a science fair on 2025-03-21."}])
        message = completion.choices[0].message
        context = f"model {model}, route openai chat.completions.parse, schema CalendarEvent\nraw output: {message.content!r}"
        self.assertEqual(completion.choices[0].finish_reason, "stop", context)
        self.assertIsInstance(message.parsed, CalendarEvent, context)
        self.assertRegex(message.parsed.date, r"^\d{4}-\d{2}-\d{2}$", context)
        self.assertLessEqual(len(message.parsed.participants), 4, context)

    def test_beta_parse_pydantic(self):
        model = MODELS[1]
        # openai 1.x apps call the helper under `beta`; newer clients keep it there as an alias.
        completions = self.openai.beta.chat.completions if hasattr(self.openai.beta, "chat") else self.openai.chat.completions
        completion = completions.parse(
            model=model, max_tokens=MAX_TOKENS, seed=11, response_format=MathResponse,
            messages=[{"role": "system", "content": "You are a helpful math tutor. Guide the user through the solution step by step."},
                      {"role": "user", "content": "How can I solve 8x + 7 = -23?"}])
        message = completion.choices[0].message
        context = f"model {model}, route openai beta.chat.completions.parse, schema MathResponse\nraw output: {message.content!r}"
        self.assertIsInstance(message.parsed, MathResponse, context)
        self.assertLessEqual(len(message.parsed.steps), 4, context)
        check_json_output(self, MathResponse.model_json_schema(), message.content, completion.choices[0].finish_reason, context)

    def test_stream_helper_pydantic(self):
        model = MODELS[0]
        with self.openai.chat.completions.stream(
                model=model, temperature=0, max_tokens=MAX_TOKENS, response_format=Contact,
                messages=[{"role": "user", "content": "Save this work contact: Jane Roe, jane.roe@example.com"}]) as stream:
            deltas = [event.delta for event in stream if event.type == "content.delta"]
            completion = stream.get_final_completion()
        message = completion.choices[0].message
        context = f"model {model}, route openai chat.completions.stream, schema Contact\nraw output: {message.content!r}"
        self.assertGreater(len(deltas), 1, context)
        self.assertEqual("".join(deltas), message.content, context)
        self.assertIsInstance(message.parsed, Contact, context)

    # MARK: JSON mode

    JSON_PROMPT = [{"role": "user", "content": "Give the three primary colours and one example object of each colour, as JSON."}]

    def test_openai_json_object(self):
        for model in MODELS:
            for stream in (False, True):
                with self.subTest(model=model, stream=stream):
                    content, finish_reason = self.generate(model, "openai", stream, self.JSON_PROMPT, greedy=True, seed=3,
                                                           openai_format={"type": "json_object"})
                    check_json_output(self, None, content, finish_reason,
                                      f"model {model}, route openai json_object ({'streamed' if stream else 'not streamed'})")

    def test_ollama_format_json(self):
        for model in MODELS:
            for stream in (False, True):
                with self.subTest(model=model, stream=stream):
                    content, finish_reason = self.generate(model, "ollama", stream, self.JSON_PROMPT, greedy=True, seed=3,
                                                           ollama_format="json")
                    check_json_output(self, None, content, finish_reason,
                                      f"model {model}, route ollama format json ({'streamed' if stream else 'not streamed'})")

    # MARK: no constraint

    PLAIN_PROMPT = [{"role": "user", "content": "Name a famous painting in a few words."}]

    def test_openai_text_format_is_unconstrained(self):
        model = MODELS[0]
        plain = self.generate(model, "openai", False, self.PLAIN_PROMPT, greedy=True, seed=5, max_tokens=24)
        text = self.generate(model, "openai", False, self.PLAIN_PROMPT, greedy=True, seed=5, max_tokens=24,
                             openai_format={"type": "text"})
        self.assertTrue(plain[0], f"model {model}, route openai: empty answer")
        self.assertEqual(text, plain, f"model {model}, route openai: response_format text changed the greedy answer "
                                      f"(raw outputs: {text[0]!r} vs {plain[0]!r})")

    def test_ollama_empty_format_is_unconstrained(self):
        model = MODELS[0]
        plain = self.generate(model, "ollama", False, self.PLAIN_PROMPT, greedy=True, seed=5, max_tokens=24)
        empty = self.generate(model, "ollama", False, self.PLAIN_PROMPT, greedy=True, seed=5, max_tokens=24, ollama_format="")
        self.assertTrue(plain[0], f"model {model}, route ollama: empty answer")
        self.assertEqual(empty, plain, f"model {model}, route ollama: format \"\" changed the greedy answer "
                                       f"(raw outputs: {empty[0]!r} vs {plain[0]!r})")

    # MARK: errors

    def assertOpenAIRejects(self, response_format, components, stream=False):
        with self.assertRaises(openai.BadRequestError, msg=f"route openai accepted {json.dumps(response_format)[:300]}") as caught:
            self.openai.chat.completions.create(model=MODELS[0], messages=self.PLAIN_PROMPT, max_tokens=8,
                                                response_format=response_format, stream=stream)
        error = caught.exception
        self.assertEqual(error.status_code, 400)
        self.assertIsInstance(error.body, dict, error.response.text)
        self.assertEqual(error.body.get("type"), "invalid_request_error", error.response.text)
        self.assertTrue(str(error.body.get("param") or "").startswith("response_format"), error.response.text)
        assert_names_path(self, error.body["message"], components, "(route openai)")

    def assertOllamaRejects(self, schema, components, stream=False):
        with self.assertRaises(ollama.ResponseError, msg=f"route ollama accepted {json.dumps(schema)[:300]}") as caught:
            response = self.ollama.chat(model=MODELS[0], messages=self.PLAIN_PROMPT, format=schema,
                                        options={"num_predict": 8}, stream=stream)
            if stream:
                list(response)
        self.assertEqual(caught.exception.status_code, 400, caught.exception.error)
        assert_names_path(self, caught.exception.error, components, "(route ollama)")

    def test_unsupported_keyword_is_400_naming_its_path(self):
        for schema, path in ((UNIQUE_ITEMS_SCHEMA, UNIQUE_ITEMS_PATH), (NOT_SCHEMA, NOT_PATH)):
            with self.subTest(keyword=path[-1]):
                self.assertOpenAIRejects({"type": "json_schema", "json_schema": {"name": "bad", "schema": schema, "strict": True}}, path)
                self.assertOpenAIRejects({"type": "json_schema", "json_schema": {"name": "bad", "schema": schema, "strict": True}}, path,
                                         stream=True)
                self.assertOllamaRejects(schema, path)
                self.assertOllamaRejects(schema, path, stream=True)

    def test_unknown_response_format_type_is_400(self):
        with self.assertRaises(openai.BadRequestError) as caught:
            self.openai.chat.completions.create(model=MODELS[0], messages=self.PLAIN_PROMPT, max_tokens=8,
                                                response_format={"type": "xml"})
        self.assertEqual(caught.exception.status_code, 400)
        self.assertTrue(str(caught.exception.body.get("param") or "").startswith("response_format"), caught.exception.response.text)


def _add_schema_tests():
    """One test per (model, schema), the route/stream/temperature rotating with the index."""
    for model_index, model in enumerate(MODELS):
        slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
        for index, case in enumerate(SCHEMAS):
            position = index + model_index  # the two models take different routes for one schema
            route, stream = COMBINATIONS[position % len(COMBINATIONS)]
            greedy = (position // len(COMBINATIONS) + model_index) % 2 == 0

            def test(self, model=model, case=case, route=route, stream=stream, greedy=greedy, seed=1000 + index):
                self.run_schema_case(model, case, route, stream, greedy, seed)

            test.__doc__ = (f"{model} · {case['name']} · {route} {'stream' if stream else 'no stream'} · "
                            f"temperature {'0' if greedy else 'default'}")
            setattr(StructuredOutputTests, f"test_schema_{slug}_{case['file']}", test)


_add_schema_tests()


class SchemaSuiteTests(unittest.TestCase):
    """The schema files themselves (no server): well-formed and enough of them."""

    def test_schema_files(self):
        self.assertGreaterEqual(len(SCHEMAS), 32)
        names = [case["name"] for case in SCHEMAS]
        self.assertEqual(len(names), len(set(names)), "schema names must be unique")
        for case in SCHEMAS:
            with self.subTest(schema=case["file"]):
                self.assertEqual(set(case) - {"file"}, {"name", "prompt", "schema"})
                self.assertTrue(case["prompt"].strip())
                jsonschema.Draft202012Validator.check_schema(case["schema"])
        recursive = sorted(case["name"] for case in SCHEMAS if is_recursive(case["schema"]))
        self.assertEqual(recursive, ["recursive_comment_thread", "recursive_file_tree"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
