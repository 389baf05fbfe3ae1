#!/usr/bin/env python3
"""Writes the fuzz harness's seed inputs (scripts/fuzz): small valid and near-valid examples for
each target, taken from the test fixtures where they exist. Usage: fuzz-seeds.py TARGET DIR."""
import json
import pathlib
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def gguf_string(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_seed(version=3, alignment=None):
    """A GGUF with one value of each kind and three tensors (F32, F16, Q4_0)."""
    kvs = []
    kvs.append(gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama"))
    kvs.append(gguf_string("llama.block_count") + struct.pack("<I", 4) + struct.pack("<I", 2))
    kvs.append(gguf_string("llama.rope.freq_base") + struct.pack("<I", 6) + struct.pack("<f", 10000.0))
    kvs.append(gguf_string("tokenizer.ggml.add_bos_token") + struct.pack("<I", 7) + b"\x01")
    kvs.append(gguf_string("llama.context_length") + struct.pack("<I", 10) + struct.pack("<Q", 2048))
    tokens = ["<s>", "</s>", "a", "b", "ab"]
    kvs.append(gguf_string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, len(tokens))
               + b"".join(gguf_string(t) for t in tokens))
    kvs.append(gguf_string("tokenizer.ggml.scores") + struct.pack("<I", 9) + struct.pack("<IQ", 6, 3)
               + struct.pack("<3f", 0.0, -1.0, -2.0))
    if alignment is not None:
        kvs.append(gguf_string("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", alignment))
    align = alignment or 32
    # name, dims, type, byte size
    tensors = [("token_embd.weight", [4, 2], 0, 32), ("output_norm.weight", [8], 1, 16), ("blk.0.attn_q.weight", [32, 1], 2, 18)]
    infos, offset = [], 0
    for name, dims, kind, size in tensors:
        infos.append(gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
                     + struct.pack("<IQ", kind, offset))
        offset += (size + align - 1) // align * align
    header = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(infos)
    header += b"\0" * ((-len(header)) % align)
    return header + bytes(range(256))[:offset] + b"\0" * max(0, offset - 256)


def seeds(target):
    if target == "gguf":
        yield "v3", gguf_seed()
        yield "v2", gguf_seed(version=2)
        yield "aligned64", gguf_seed(alignment=64)
    elif target == "json":
        for i, text in enumerate([
            '{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"stream":true}',
            '[1,-0,2.5e-3,1E400,-9223372036854775808,18446744073709551616,true,false,null]',
            '{"a":"\\u00e9\\ud83d\\ude00\\n\\"","b":{"c":[[],{}]},"a2":""}',
            '  "just a string"  ', '{"x":1,"x":2}', '[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]',
        ]):
            yield f"doc{i}", text.encode()
    elif target == "templates":
        for path in sorted((ROOT / "Tests/TemplatesTests/Fixtures").glob("*.json")):
            source = json.loads(path.read_text()).get("source")
            if isinstance(source, str):
                yield path.stem, source.encode()
        yield "syntax", b"{% for m in messages %}{{ m.role|upper }}{% if loop.last %}{{ m.content[:3] ~ 'x' * 2 }}{% endif %}{% endfor %}{% set ns = namespace(a=1) %}{% macro f(x) %}{{ x|tojson }}{% endmacro %}{{ f(tools) }}{{ raise_exception('no') if false }}"
    elif target == "grammar":
        gbnf = ['root ::= "a" [b-d]* ( "e" | x ){1,3}\nx ::= [^\\n] x?',
                'root ::= obj\nobj ::= "{" ws ( str ":" ws val ( "," ws str ":" ws val )* )? "}"\nval ::= obj | str | [0-9]+\nstr ::= "\\"" [a-z]* "\\""\nws ::= [ \\t]*']
        regex = ['^[A-Z][a-z]+(-[0-9]{2,4})?$', '(ab|cd)*e+?\\d\\w\\s[^x-z]', 'a{0,100}b{3}|\\u00e9+']
        schemas = [
            {"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 8},
                                              "age": {"type": "integer", "minimum": 0, "maximum": 150},
                                              "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3}},
             "required": ["name"], "additionalProperties": False},
            {"anyOf": [{"type": "number", "exclusiveMinimum": -1.5}, {"type": "null"}, {"const": {"k": [1, 2]}}]},
            {"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
            {"type": "string", "format": "date-time"}, {"type": "string", "pattern": "^[a-f0-9]{4}$"},
        ]
        for i, text in enumerate(gbnf):
            yield f"gbnf{i}", b"\x00" + text.encode()
        for i, text in enumerate(regex):
            yield f"regex{i}", b"\x01" + text.encode()
        for i, schema in enumerate(schemas):
            yield f"schema{i}", b"\x02" + json.dumps(schema).encode()
    else:
        sys.exit(f"fuzz-seeds.py: unknown target '{target}' (gguf, json, templates, grammar)")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fuzz-seeds.py TARGET DIR")
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds(sys.argv[1]):
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
