"""`--cache-type q8_0` (keys and values stored as Q8_0, as llama.cpp's `-ctk q8_0 -ctv q8_0`):
`hearth serve` answers with it through the `ollama` client (set as Ollama users set it, with
OLLAMA_KV_CACHE_TYPE), its slots take 34/64 of the f16
cache's memory (what `/api/ps` reports), and `hearth bench` / `hearth run` take the flag too.
A type Hearth does not have is a clear error before anything loads.
"""

import json
import os
import shutil
import subprocess
import unittest

import ollama

from hearth_process import hearth_bin, hearth_home, store_with
from test_ledger import LedgerServer

MODEL = "qwen2.5-coder:0.5b"


class QuantisedCacheTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = store_with("hearth-kv-", MODEL)
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.servers = {}
        # Ollama's OLLAMA_KV_CACHE_TYPE sets the type as it does for Ollama; --cache-type wins over it.
        for cache_type, flags in (("f16", ["--cache-type", "f16"]), ("q8_0", [])):
            server = LedgerServer(cls.home, "--no-ledger", "--parallel", "1", "--ctx", "4096", *flags,
                                  environment={"OLLAMA_KV_CACHE_TYPE": "q8_0"})
            cls.addClassCleanup(server.stop)
            cls.servers[cache_type] = server

    def client(self, cache_type):
        return ollama.Client(host=f"http://127.0.0.1:{self.servers[cache_type].port}", timeout=300)

    def test_answers_and_memory(self):
        answers, cache_bytes = {}, {}
        file_size = (self.home / "models" / f"{MODEL}.gguf").stat().st_size
        for cache_type in ("f16", "q8_0"):
            client = self.client(cache_type)
            reply = client.chat(model=MODEL, messages=[{"role": "user", "content": "What is the capital of France? One word."}],
                                options={"temperature": 0, "num_predict": 8})
            answers[cache_type] = reply.message.content
            loaded = [model for model in client.ps().models if model.model == MODEL]
            self.assertEqual(len(loaded), 1, client.ps())
            cache_bytes[cache_type] = loaded[0].size - file_size
        self.assertIn("Paris", answers["q8_0"])
        # 24 layers x 4096 positions x 2 KV heads x (keys and values) x 64 dimensions: 2 bytes each
        # in f16, 34 bytes per 32 in Q8_0.
        self.assertEqual(cache_bytes["f16"], 24 * 4096 * 2 * 2 * 64 * 2)
        self.assertEqual(cache_bytes["q8_0"] * 64, cache_bytes["f16"] * 34)


class CacheTypeFlagTests(unittest.TestCase):
    def run_hearth(self, *arguments):
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        return subprocess.run([str(hearth_bin()), *arguments], env=env, capture_output=True, text=True, timeout=600)

    def test_an_unknown_ollama_cache_type_is_named(self):
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()), OLLAMA_KV_CACHE_TYPE="q4_0")
        result = subprocess.run([str(hearth_bin()), "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("OLLAMA_KV_CACHE_TYPE=q4_0", result.stderr)
        self.assertIn("f16, q8_0", result.stderr)

    def test_unknown_type_is_named(self):
        for command in (["serve", "--port", "0"], ["run", MODEL, "hi"], ["bench", MODEL], ["perplexity", MODEL, "--file", "/dev/null"],
                        ["fit"]):
            with self.subTest(command=command[0]):
                result = self.run_hearth(*command, "--cache-type", "q4_x")
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("q4_x", result.stderr)
                self.assertIn("q8_0", result.stderr)

    def test_bad_depth_and_draft_flags_are_named(self):
        for arguments, named in ((["bench", MODEL, "--depth", "-1"], "--depth"),
                                 (["bench", MODEL, "--depth", "200000"], "--depth"),
                                 (["bench", MODEL, "--draft-max", "4"], "--draft-max"),
                                 (["run", MODEL, "--draft", MODEL, "--draft-p-min", "2", "hi"], "--draft-p-min"),
                                 (["run", MODEL, "--draft", MODEL, "--draft-max", "65", "hi"], "--draft-max"),
                                 (["run", MODEL, "--draft-max", "4", "hi"], "--draft-max"),
                                 (["run", MODEL, "--draft", "no-such-model:1b", "hi"], "no-such-model")):
            with self.subTest(arguments=arguments):
                result = self.run_hearth(*arguments)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(named, result.stderr)

    def test_bench_at_depth_with_a_quantised_cache(self):
        result = self.run_hearth("bench", MODEL, "--pp", "16", "--tg", "4", "--depth", "256", "--reps", "1",
                                 "--cache-type", "q8_0", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual((report["depth"], report["cache_type"]), (256, "q8_0"))
        self.assertGreater(report["tg_tps"], 0)
        self.assertGreater(report["pp_tps"], 0)

    def test_run_with_a_quantised_cache(self):
        result = self.run_hearth("run", MODEL, "--cache-type", "q8_0", "--temp", "0", "--max-tokens", "8",
                                 "What is the capital of France? One word.")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Paris", result.stdout)


if __name__ == "__main__":
    unittest.main()
