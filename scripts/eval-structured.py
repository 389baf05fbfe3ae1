#!/usr/bin/env python3
"""Measures structured output and tool calls of an OpenAI- (and optionally Ollama-) compatible
server: Hearth's `hearth serve`, or llama.cpp's `llama-server --jinja` for comparison on the
same model. Not part of CI: this is the full matrix that Tests/clients/test_structured.py and
test_tools.py only sample.

(a) Schemas: every schema of --schemas (files `{"name", "prompt", "schema"}`) × model × route ×
    stream mode × temperature × run. Each answer must be complete JSON that validates against
    the schema (jsonschema Draft 2020-12, formats checked). Reports validity %, what went wrong
    (not JSON, invalid, cut off at max_tokens, rejected by the server with 4xx) and speed.
(b) Tools: every prompt of --tools × model × route × tool_choice (auto, required, the named
    expected tool; the Ollama API has only auto) × stream mode × temperature × run. Reports how
    often the right tool was called with arguments that validate against its schema, how often
    the arguments also carry the expected values, and a two-turn test: the tool's result fed
    back (assistant tool_calls + a `tool` message) must give a final text answer.

Prints Markdown tables (for BENCHMARKS.md); --json writes every request's record and the summary.

Usage:
  scripts/eval-structured.py --base-url http://127.0.0.1:11434 --models qwen2.5-coder:0.5b smollm2:135m
  scripts/eval-structured.py --base-url http://127.0.0.1:8090 --api openai --part tools \\
      --models qwen2.5-coder:1.5b --json /tmp/llama-tools.json

  --base-url        the server's root (http://HOST:PORT) or its OpenAI base (…/v1)
  --api             openai, ollama or both (default both; llama-server has only openai)
  --part            schemas, tools or both (default both)
  --stream          no, yes or both (default both)
  --temperatures    comma-separated: numbers and/or "default" (left to the server) (default 0,default)
  --runs N          repeat every request N times, with a different seed each (default 1)

Needs the pinned clients: pip install -r Tests/clients/requirements.txt
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import jsonschema

# Draft 2020-12's own format checker: a bare jsonschema.FormatChecker() holds every draft's
# checkers, and draft 3's "time" (HH:MM:SS, no offset) replaces RFC 3339's full-time there.
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

REPO = Path(__file__).resolve().parents[1]

# Loopback must never go through a proxy.
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api", choices=["openai", "ollama", "both"], default="both")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--schemas", type=Path, default=REPO / "Tests/clients/schemas")
    parser.add_argument("--tools", type=Path, default=REPO / "Tests/clients/tool_prompts.json")
    parser.add_argument("--part", choices=["schemas", "tools", "both"], default="both")
    parser.add_argument("--stream", choices=["no", "yes", "both"], default="both")
    parser.add_argument("--temperatures", default="0,default")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=400, help="per schema answer (default 400)")
    parser.add_argument("--tool-max-tokens", type=int, default=200, help="per tool-call turn (default 200)")
    parser.add_argument("--tool-modes", default="auto,required,named", help="comma-separated subset of auto,required,named")
    parser.add_argument("--no-two-turn", action="store_true", help="skip the two-turn test")
    parser.add_argument("--limit", type=int, help="only the first N schemas and prompts (a quick look)")
    parser.add_argument("--only", nargs="+", help="only schemas whose file name or name contains one of these")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "unused"))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", type=Path, help="write every record and the summary here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each failure with its raw output")
    arguments = parser.parse_args()
    arguments.temperatures = [None if t.strip() == "default" else float(t) for t in arguments.temperatures.split(",") if t.strip()]
    arguments.streams = {"no": [False], "yes": [True], "both": [False, True]}[arguments.stream]
    arguments.apis = ["openai", "ollama"] if arguments.api == "both" else [arguments.api]
    arguments.tool_modes = [mode.strip() for mode in arguments.tool_modes.split(",") if mode.strip()]
    unknown = set(arguments.tool_modes) - {"auto", "required", "named"}
    if unknown:
        parser.error(f"unknown tool mode(s) {', '.join(sorted(unknown))}")
    root = arguments.base_url.rstrip("/")
    arguments.root = root[:-3] if root.endswith("/v1") else root
    return arguments


def log(message):
    print(message, file=sys.stderr, flush=True)


def temperature_label(temperature):
    return "default" if temperature is None else f"{temperature:g}"


def schema_errors(schema, instance):
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return [f"at {error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


class Clients:
    def __init__(self, arguments):
        self.arguments = arguments
        self.openai = self.ollama = None
        if "openai" in arguments.apis:
            import openai
            self.openai_module = openai
            self.openai = openai.OpenAI(base_url=f"{arguments.root}/v1", api_key=arguments.api_key, max_retries=0,
                                        timeout=arguments.timeout)
        if "ollama" in arguments.apis:
            import ollama
            self.ollama_module = ollama
            self.ollama = ollama.Client(host=arguments.root, timeout=arguments.timeout)

    def rejection(self, error):
        """(kind, message) for a failed request: 'rejected' for a 4xx, 'error' otherwise."""
        status = getattr(error, "status_code", None)
        if self.openai is not None and isinstance(error, self.openai_module.APIStatusError):
            body, message = error.body, None
            if isinstance(body, dict):
                message = body.get("message")
                if not message and isinstance(body.get("error"), dict):
                    message = body["error"].get("message")
            message = message or error.response.text
        elif self.ollama is not None and isinstance(error, self.ollama_module.ResponseError):
            message = error.error
        else:
            return "error", repr(error)
        return ("rejected" if status is not None and 400 <= status < 500 else "error"), f"{status}: {message}"

    # MARK: one chat request on either route

    def chat(self, route, model, messages, stream, temperature, seed, max_tokens, response_format=None, ollama_format=None,
             tools=None, tool_choice=None):
        """One request. Returns a dict: content, tool_calls [{id, type, name, arguments (text or
        dict)}], finish_reason, completion_tokens, seconds, ttft, decode_seconds, protocol
        (violations of the streaming tool-call protocol)."""
        started = time.monotonic()
        result = {"content": "", "tool_calls": [], "finish_reason": None, "completion_tokens": None, "ttft": None,
                  "decode_seconds": None, "protocol": []}
        if route == "openai":
            parameters = dict(model=model, messages=messages, max_tokens=max_tokens, seed=seed)
            if temperature is not None:
                parameters["temperature"] = temperature
            if response_format is not None:
                parameters["response_format"] = response_format
            if tools is not None:
                parameters["tools"] = tools
            if tool_choice is not None:
                parameters["tool_choice"] = tool_choice
            if not stream:
                completion = self.openai.chat.completions.create(**parameters)
                choice = completion.choices[0]
                result["content"] = choice.message.content or ""
                result["tool_calls"] = [{"id": call.id, "type": call.type, "name": call.function.name,
                                         "arguments": call.function.arguments} for call in choice.message.tool_calls or []]
                result["finish_reason"] = choice.finish_reason
                result["completion_tokens"] = completion.usage.completion_tokens if completion.usage else None
            else:
                calls, first, last, pieces = {}, None, None, 0
                for chunk in self.openai.chat.completions.create(stream=True, stream_options={"include_usage": True}, **parameters):
                    now = time.monotonic()
                    if chunk.usage is not None:
                        result["completion_tokens"] = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content or delta.tool_calls:
                            first = first or now
                            last = now
                            pieces += 1
                        result["content"] += delta.content or ""
                        result["finish_reason"] = choice.finish_reason or result["finish_reason"]
                        for part in delta.tool_calls or []:
                            if part.index not in calls:
                                if not (part.id and part.type == "function" and part.function and part.function.name):
                                    result["protocol"].append(f"first delta of call {part.index} lacks id, type or name: {part}")
                                calls[part.index] = {"id": part.id, "type": part.type,
                                                     "name": part.function.name if part.function else None, "arguments": ""}
                            elif part.id or (part.function and part.function.name):
                                result["protocol"].append(f"call {part.index}: id or name repeated in a later delta: {part}")
                            if part.function and part.function.arguments:
                                calls[part.index]["arguments"] += part.function.arguments
                result["tool_calls"] = [calls[index] for index in sorted(calls)]
                if result["completion_tokens"] is None:
                    result["completion_tokens"] = pieces  # no usage: count content deltas
                if first is not None:
                    result["ttft"] = first - started
                    result["decode_seconds"] = last - first
        else:
            options = {"num_predict": max_tokens, "seed": seed}
            if temperature is not None:
                options["temperature"] = temperature
            parameters = dict(model=model, messages=messages, options=options)
            if ollama_format is not None:
                parameters["format"] = ollama_format
            if tools is not None:
                parameters["tools"] = tools
            if not stream:
                parts = [self.ollama.chat(**parameters)]
            else:
                parts, first = [], None
                for part in self.ollama.chat(stream=True, **parameters):
                    if first is None and (part.message.content or part.message.tool_calls):
                        first = time.monotonic()
                    parts.append(part)
                if first is not None:
                    result["ttft"] = first - started
            final = parts[-1]
            result["content"] = "".join(part.message.content or "" for part in parts)
            result["tool_calls"] = [{"id": None, "type": "function", "name": call.function.name,
                                     "arguments": dict(call.function.arguments)}
                                    for part in parts for call in part.message.tool_calls or []]
            result["finish_reason"] = final.done_reason
            result["completion_tokens"] = final.eval_count
            if final.eval_duration:
                result["decode_seconds"] = final.eval_duration / 1e9
        result["seconds"] = time.monotonic() - started
        return result


# MARK: schemas


def load_schemas(arguments):
    cases = []
    for path in sorted(arguments.schemas.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["file"] = path.stem
        if arguments.only and not any(word in path.stem or word in case["name"] for word in arguments.only):
            continue
        cases.append(case)
    return cases[:arguments.limit] if arguments.limit else cases


def run_schemas(arguments, clients, models):
    cases = load_schemas(arguments)
    records = []
    total = len(models) * len(arguments.apis) * len(arguments.streams) * len(arguments.temperatures) * arguments.runs * len(cases)
    for model in models:
        for route in arguments.apis:
            for stream in arguments.streams:
                for temperature in arguments.temperatures:
                    for run in range(arguments.runs):
                        for index, case in enumerate(cases):
                            record = {"part": "schemas", "model": model, "route": route, "stream": stream,
                                      "temperature": temperature, "run": run, "schema": case["name"], "file": case["file"],
                                      "seed": arguments.seed + run * 1000 + index}
                            messages = [{"role": "user", "content": case["prompt"]}]
                            try:
                                result = clients.chat(
                                    route, model, messages, stream, temperature, record["seed"], arguments.max_tokens,
                                    response_format={"type": "json_schema", "json_schema": {
                                        "name": case["name"], "schema": case["schema"], "strict": True}},
                                    ollama_format=case["schema"])
                            except Exception as error:  # recorded, reported below
                                record["outcome"], record["detail"] = clients.rejection(error)
                            else:
                                record.update(result)
                                record["outcome"], record["detail"] = judge_json(case["schema"], result)
                            records.append(record)
                            log(f"[{len(records)}/{total}] {model} {route}{' stream' if stream else ''} "
                                f"t={temperature_label(temperature)} {case['file']}: {record['outcome']}"
                                + (f" ({record.get('completion_tokens')} tokens, {record['seconds']:.1f} s)" if "seconds" in record else "")
                                + (f"\n    {record['detail']}\n    raw: {record.get('content', '')!r}" if arguments.verbose and record["outcome"] != "valid" else ""))
    return records


def judge_json(schema, result):
    content = result["content"]
    if result["finish_reason"] == "length":
        return "truncated", f"cut off at max_tokens after {result['completion_tokens']} tokens"
    try:
        value = json.loads(content)
    except json.JSONDecodeError as error:
        return "not_json", str(error)
    errors = schema_errors(schema, value)
    return ("invalid", "; ".join(errors[:5])) if errors else ("valid", "")


# MARK: tools


def sent_tools(route, tools):
    """The tools as the route's client sends them: the ollama client keeps only some property
    fields (type, items, description, enum), so arguments are held to that schema there."""
    if route != "ollama":
        return tools
    from ollama._types import Tool
    return [Tool.model_validate(tool).model_dump(exclude_none=True, by_alias=True) for tool in tools]


def tool_schema(tools, name):
    return next((tool["function"]["parameters"] for tool in tools if tool["function"]["name"] == name), None)


def matches_expected(arguments, expected):
    for key, want in expected.items():
        if key not in arguments:
            return False
        got = arguments[key]
        if want is None:
            continue
        if isinstance(want, str):
            if not isinstance(got, str) or want.lower() not in got.lower():
                return False
        elif isinstance(want, bool) or not isinstance(want, (int, float)):
            if got != want:
                return False
        elif isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isclose(got, want, rel_tol=1e-6):
            return False
    return True


def judge_calls(route, case, result, forced_name=None):
    """Annotates a tool-call result: every call parsed and validated, and the verdict."""
    tools = sent_tools(route, case["tools"])
    problems = []
    for call in result["tool_calls"]:
        arguments = call["arguments"]
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as error:
                problems.append(f"{call['name']}: arguments not JSON ({error})")
                call["valid"] = False
                continue
        call["arguments"] = arguments
        schema = tool_schema(tools, call["name"])
        if schema is None:
            problems.append(f"{call['name']}: not an offered tool")
            call["valid"] = False
            continue
        errors = schema_errors(schema, arguments) if isinstance(arguments, dict) else ["not an object"]
        call["valid"] = not errors
        problems += [f"{call['name']}: {error}" for error in errors]
    calls = result["tool_calls"]
    wanted = forced_name or case["expected_tool"]
    first = calls[0] if calls else None
    verdict = {
        "called": bool(calls),
        "right_tool": bool(first) and first["name"] == wanted,
        "right_and_valid": bool(first) and first["name"] == wanted and first.get("valid", False),
        "all_valid": all(call.get("valid", False) for call in calls),
        "args_match": bool(first) and first["name"] == wanted and first.get("valid", False)
                      and forced_name in (None, case["expected_tool"]) and matches_expected(first["arguments"], case["expected_arguments"]),
        "single_call": len(calls) == 1,
        "finish_ok": (not calls) or route != "openai" or result["finish_reason"] == "tool_calls",
        "problems": problems + result["protocol"],
    }
    return verdict


def run_tools(arguments, clients, models):
    prompts = json.loads(arguments.tools.read_text(encoding="utf-8"))
    if arguments.limit:
        prompts = prompts[:arguments.limit]
    records = []
    plans = []
    for model in models:
        for route in arguments.apis:
            modes = arguments.tool_modes if route == "openai" else [mode for mode in arguments.tool_modes if mode == "auto"]
            for mode in modes:
                for stream in arguments.streams:
                    for temperature in arguments.temperatures:
                        for run in range(arguments.runs):
                            plans.append((model, route, mode, stream, temperature, run))
            if not arguments.no_two_turn:
                for stream in arguments.streams:
                    for temperature in arguments.temperatures:
                        for run in range(arguments.runs):
                            plans.append((model, route, "two_turn", stream, temperature, run))
    total = len(plans) * len(prompts)
    for model, route, mode, stream, temperature, run in plans:
        for index, case in enumerate(prompts):
            seed = arguments.seed + run * 1000 + index
            record = {"part": "tools", "model": model, "route": route, "mode": mode, "stream": stream,
                      "temperature": temperature, "run": run, "prompt": case["prompt"], "expected_tool": case["expected_tool"],
                      "seed": seed}
            messages = [{"role": "user", "content": case["prompt"]}]
            choice = {"auto": None, "required": "required", "two_turn": None,
                      "named": {"type": "function", "function": {"name": case["expected_tool"]}}}[mode]
            if mode == "two_turn" and route == "openai":
                # The first turn is forced to the expected tool, so the second turn is always tested.
                choice = {"type": "function", "function": {"name": case["expected_tool"]}}
            try:
                result = clients.chat(route, model, messages, stream, temperature, seed, arguments.tool_max_tokens,
                                      tools=case["tools"], tool_choice=choice)
                record.update(result)
                record.update(judge_calls(route, case, result))
                if mode == "two_turn":
                    record.update(second_turn(arguments, clients, route, model, case, messages, result, stream, temperature, seed))
                record["outcome"] = "ok"
            except Exception as error:  # recorded, reported below
                record["outcome"], record["detail"] = clients.rejection(error)
            records.append(record)
            if record["outcome"] != "ok":
                status = record["outcome"]
            elif mode == "two_turn":
                status = "answered" if record.get("answered") else "no answer"
            else:
                status = "right" if record["right_and_valid"] else ("no call" if not record["called"] else "wrong")
            log(f"[{len(records)}/{total}] {model} {route} {mode}{' stream' if stream else ''} t={temperature_label(temperature)} "
                f"#{index} {case['expected_tool']}: {status}"
                + (f" {[(call['name'], call['arguments']) for call in record.get('tool_calls', [])]}" if arguments.verbose else "")
                + (f"\n    {record.get('detail') or record.get('problems')}\n    content: {record.get('content', '')!r}"
                   if arguments.verbose and status not in ("right", "answered") else ""))
    return records


def second_turn(arguments, clients, route, model, case, messages, result, stream, temperature, seed):
    """Feeds the first call's result back; the answer must be text, not another call."""
    calls = [call for call in result["tool_calls"] if call.get("valid")]
    if not calls:
        return {"answered": False, "second": None, "second_detail": "no valid call in the first turn"}
    call = calls[0]
    if route == "openai":
        call_id = call["id"] or "call_0"
        follow = messages + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])}}]},
            {"role": "tool", "tool_call_id": call_id, "content": json.dumps(case["tool_result"])}]
    else:
        follow = messages + [
            {"role": "assistant", "content": result["content"], "tool_calls": [
                {"function": {"name": call["name"], "arguments": call["arguments"]}}]},
            {"role": "tool", "content": json.dumps(case["tool_result"]), "tool_name": call["name"]}]
    second = clients.chat(route, model, follow, stream, temperature, seed, arguments.tool_max_tokens, tools=case["tools"])
    content = second["content"] or ""
    answered = bool(content.strip()) and not second["tool_calls"] and second["finish_reason"] == "stop"
    mentions = case.get("answer_mentions") or []
    return {"answered": answered, "uses_result": answered and all(word.lower() in content.lower() for word in mentions),
            "second": {key: second[key] for key in ("content", "tool_calls", "finish_reason", "completion_tokens", "seconds")}}


# MARK: report


def percent(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "–"


def rate(tokens, seconds):
    return f"{tokens / seconds:.1f}" if seconds and tokens else "–"


def schema_summary(records):
    lines = ["| model | route | stream | temp | n | valid | invalid | not JSON | cut off | rejected | errors | mean tokens | tokens/s (wall) | decode tokens/s | median TTFT s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for record in records:
        groups.setdefault((record["model"], record["route"], record["stream"], temperature_label(record["temperature"])), []).append(record)
    summary = []
    for (model, route, stream, temperature), group in groups.items():
        count = {outcome: sum(r["outcome"] == outcome for r in group) for outcome in ("valid", "invalid", "not_json", "truncated", "rejected", "error")}
        answered = [r for r in group if "seconds" in r and r.get("completion_tokens")]
        tokens = sum(r["completion_tokens"] for r in answered)
        seconds = sum(r["seconds"] for r in answered)
        decoded = [r for r in answered if r.get("decode_seconds")]
        decode_tokens = sum(r["completion_tokens"] - (1 if r["route"] == "openai" else 0) for r in decoded)
        decode_seconds = sum(r["decode_seconds"] for r in decoded)
        ttfts = [r["ttft"] for r in answered if r.get("ttft") is not None]
        # Validity counts every schema the server was sent, rejections included.
        row = {"model": model, "route": route, "stream": stream, "temperature": temperature, "n": len(group), **count,
               "valid_percent": 100 * count["valid"] / len(group),
               "mean_tokens": tokens / len(answered) if answered else None,
               "tokens_per_second": tokens / seconds if seconds else None,
               "decode_tokens_per_second": decode_tokens / decode_seconds if decode_seconds else None,
               "median_ttft": statistics.median(ttfts) if ttfts else None}
        summary.append(row)
        lines.append(f"| {model} | {route} | {'yes' if stream else 'no'} | {temperature} | {len(group)} | {percent(count['valid'], len(group))} | "
                     f"{count['invalid']} | {count['not_json']} | {count['truncated']} | {count['rejected']} | {count['error']} | "
                     f"{row['mean_tokens'] or 0:.0f} | {rate(tokens, seconds)} | {rate(decode_tokens, decode_seconds)} | "
                     f"{'%.2f' % row['median_ttft'] if row['median_ttft'] is not None else '–'} |")
    return lines, summary


def schema_failures(records):
    lines = []
    by_schema = {}
    for record in records:
        by_schema.setdefault(record["file"], []).append(record)
    bad = {name: group for name, group in by_schema.items() if any(r["outcome"] != "valid" for r in group)}
    if not bad:
        return ["Every schema gave a valid answer on every route, stream mode and temperature."]
    lines += ["| schema | valid | failures (model route stream temp: outcome — detail) |", "|---|---|---|"]
    for name, group in sorted(bad.items()):
        failures = [r for r in group if r["outcome"] != "valid"]
        details = {}
        for r in failures:
            key = f"{r['outcome']} — {(r.get('detail') or '')[:160]}".replace("|", "\\|").replace("\n", " ")
            details.setdefault(key, []).append(f"{r['model']} {r['route']}{' s' if r['stream'] else ''} t={temperature_label(r['temperature'])}")
        text = "<br>".join(f"{', '.join(who[:3])}{' …+%d' % (len(who) - 3) if len(who) > 3 else ''}: {what}" for what, who in details.items())
        lines.append(f"| {name} | {sum(r['outcome'] == 'valid' for r in group)}/{len(group)} | {text} |")
    return lines


def tool_summary(records):
    lines = ["| model | route | tool_choice | stream | temp | n | right tool + valid args | args as expected | no call | invalid args | finish_reason wrong | protocol errors | rejected/errors | mean s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    two = ["| model | route | stream | temp | n | final text answer | answer uses the result | first turn right + valid | mean s (both turns) |",
           "|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for record in records:
        groups.setdefault((record["model"], record["route"], record["mode"], record["stream"], temperature_label(record["temperature"])), []).append(record)
    summary = []
    for (model, route, mode, stream, temperature), group in groups.items():
        ok = [r for r in group if r["outcome"] == "ok"]
        failed = len(group) - len(ok)
        mean_seconds = statistics.mean(r["seconds"] + ((r.get("second") or {}).get("seconds") or 0) for r in ok) if ok else 0
        if mode == "two_turn":
            row = {"model": model, "route": route, "mode": mode, "stream": stream, "temperature": temperature, "n": len(group),
                   "answered": sum(bool(r.get("answered")) for r in ok), "uses_result": sum(bool(r.get("uses_result")) for r in ok),
                   "first_right": sum(r["right_and_valid"] for r in ok), "failed": failed}
            two.append(f"| {model} | {route} | {'yes' if stream else 'no'} | {temperature} | {len(group)} | {percent(row['answered'], len(group))} | "
                       f"{percent(row['uses_result'], len(group))} | {percent(row['first_right'], len(group))} | {mean_seconds:.1f} |")
        else:
            row = {"model": model, "route": route, "mode": mode, "stream": stream, "temperature": temperature, "n": len(group),
                   "right_and_valid": sum(r["right_and_valid"] for r in ok), "args_match": sum(r["args_match"] for r in ok),
                   "no_call": sum(not r["called"] for r in ok), "invalid": sum(not r["all_valid"] for r in ok),
                   "finish_wrong": sum(not r["finish_ok"] for r in ok),
                   "protocol": sum(bool(r["protocol"]) for r in ok), "failed": failed}
            lines.append(f"| {model} | {route} | {mode} | {'yes' if stream else 'no'} | {temperature} | {len(group)} | "
                         f"{percent(row['right_and_valid'], len(group))} | {percent(row['args_match'], len(group))} | {row['no_call']} | "
                         f"{row['invalid']} | {row['finish_wrong']} | {row['protocol']} | {failed} | {mean_seconds:.1f} |")
        row["mean_seconds"] = mean_seconds
        summary.append(row)
    return lines, two, summary


def tool_failures(records):
    lines = []
    for r in records:
        if r["outcome"] != "ok":
            lines.append(f"- {r['model']} {r['route']} {r['mode']}{' stream' if r['stream'] else ''} t={temperature_label(r['temperature'])}: "
                         f"{r['outcome']} {r.get('detail', '')[:200]} — {r['prompt']!r}")
        elif r["mode"] != "two_turn" and (r["problems"] or not r["finish_ok"]):
            lines.append(f"- {r['model']} {r['route']} {r['mode']}{' stream' if r['stream'] else ''} t={temperature_label(r['temperature'])}: "
                         f"{'; '.join(r['problems'])[:300]}{'' if r['finish_ok'] else ' finish_reason ' + repr(r['finish_reason'])} — {r['prompt']!r}")
    return lines


def main():
    arguments = parse_arguments()
    clients = Clients(arguments)
    records = []
    started = time.time()
    if arguments.part in ("schemas", "both"):
        records += run_schemas(arguments, clients, arguments.models)
    if arguments.part in ("tools", "both"):
        records += run_tools(arguments, clients, arguments.models)
    schema_records = [r for r in records if r["part"] == "schemas"]
    tool_records = [r for r in records if r["part"] == "tools"]
    out = [f"Structured output and tool calls against {arguments.root} ({', '.join(arguments.apis)} route), "
           f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, {time.time() - started:.0f} s. "
           f"Command: `{' '.join(['scripts/eval-structured.py'] + sys.argv[1:])}`", ""]
    summary = {"base_url": arguments.root, "apis": arguments.apis, "models": arguments.models}
    if schema_records:
        table, summary["schemas"] = schema_summary(schema_records)
        out += [f"### Schemas ({len(load_schemas(arguments))} schemas, max_tokens {arguments.max_tokens})", ""] + table + [""]
        out += ["#### Schemas not always valid", ""] + schema_failures(schema_records) + [""]
    if tool_records:
        table, two, summary["tools"] = tool_summary(tool_records)
        out += [f"### Tool calls ({len(set(r['prompt'] for r in tool_records))} prompts, max_tokens {arguments.tool_max_tokens})", ""] + table + [""]
        if len(two) > 2:
            out += ["#### Two turns (the tool's result fed back)", ""] + two + [""]
        failures = tool_failures(tool_records)
        if failures:
            out += ["#### Tool-call problems", ""] + failures + [""]
    print("\n".join(out))
    if arguments.json:
        arguments.json.write_text(json.dumps({"summary": summary, "records": records}, indent=1, ensure_ascii=False, default=str))
        log(f"wrote {arguments.json}")


if __name__ == "__main__":
    main()
