#!/usr/bin/env python3
"""Writes Tests/TokenizersTests/Fixtures/gpt4o-splits.json: how llama.cpp pre-tokenizes text for
GPT-4o / o200k vocabularies (gpt-oss, Llama 4), as piece lengths in code points.

llama.cpp (src/unicode.cpp `unicode_regex_split`) replaces each non-ASCII code point by one
stand-in byte for its category (whitespace 0x0B, letter 0xD2, number 0xD1, punctuation 0xD3, mark
0xD4, symbol 0xD5, anything else 0xD0), rewrites \\p{L} and \\p{N} as classes of ASCII plus the
stand-in, and runs its GPT-4o regex (src/llama-vocab.cpp) through C++ std::regex (ECMAScript:
leftmost match, alternatives in order, backtracking). Python's `re` has the same semantics for
this pattern, so running it on the same collapsed text gives llama.cpp's pieces; the text
between matches is a piece too.

Usage: gpt4o-splits.py OUT.json
"""
import json
import re
import sys
import unicodedata

LETTER = "A-Za-z\xd2"
NUMBER = "0-9\xd1"
SPACE = "\t\n\x0b\x0c\r "
PATTERN = (
    f"[^\\r\\n{LETTER}{NUMBER}]?((?=[{LETTER}])([^a-z]))*((?=[{LETTER}])([^A-Z]))+"
    f"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    f"|[^\\r\\n{LETTER}{NUMBER}]?((?=[{LETTER}])([^a-z]))+((?=[{LETTER}])([^A-Z]))*"
    f"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    f"|[{NUMBER}]{{1,3}}| ?[^{SPACE}{LETTER}{NUMBER}]+[\\r\\n/]*|[{SPACE}]*[\\r\\n]+|[{SPACE}]+(?![^{SPACE}])|[{SPACE}]+"
)

def collapse(text):
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
            continue
        category = unicodedata.category(ch)
        if ch.isspace():
            out.append("\x0b")
        else:
            out.append({"L": "\xd2", "N": "\xd1", "P": "\xd3", "M": "\xd4", "S": "\xd5"}.get(category[0], "\xd0"))
    return "".join(out)

def split(text):
    collapsed = collapse(text)
    lengths, previous = [], 0
    for match in re.finditer(PATTERN, collapsed):
        if match.start() > previous:
            lengths.append(match.start() - previous)
        if match.end() > match.start():
            lengths.append(match.end() - match.start())
        previous = match.end()
    if previous < len(collapsed):
        lengths.append(len(collapsed) - previous)
    return lengths

TEXTS = [
    "Hello world",
    "I'm sure they'LL say DON'T, and we'd agree it's fine",
    "HelloWorld XMLHttpRequest iPhone McDonald's ABCdef abcDEF",
    "12345678 and 1,000,000.50 or 3.14159",
    "Wait!!! What?\n\nReally...\n",
    "path/to/file.py:42 and a//b///\n/c",
    "Éric est naïve; ÀBC ÉCOLE école",
    "日本語のテキスト、そして中文。",
    "Привет Мир, ПРИВЕТ мир",
    "   leading spaces\tand\ttabs  \n  trailing   ",
    "line one\r\nline two\r\n\r\n",
    "emoji 👍🏽 and ✨sparkles✨",
    "combining e\u0301 marks and cafe\u0301",
    "Arabic digits ٣٤٥٦ and ٣٤",
    "def main():\n    x = [1, 2, 3]\n    return {'a': x}\n",
    "\u3000ideographic\u00a0nbsp",
    "'s alone, 'S, 'Re and O'Neil",
    "aB cD eFgH IJkl MNOpqR",
    " ",
    "\n",
    "x",
]

def main():
    out = sys.argv[1]
    cases = [{"text": text, "lengths": split(text)} for text in TEXTS]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")

main()
