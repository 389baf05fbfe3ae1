"""`hearth eval` end to end: HumanEval problems (fetched into the store with pip, answers run in
the sandbox) against a local model and against a second `hearth serve` standing in for a remote
service — the same score, problem for problem — and the quick suite calibrating the router,
whose policy file a server then routes by.

Each test runs on a store of its own (a temporary HEARTH_HOME with the models hard linked from the
test store), so the ledger and router.json it writes are its own.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from hearth_process import free_port, hearth_bin, hearth_home
from test_clients import request
from test_ledger import LedgerServer

CODER = "qwen2.5-coder:0.5b"
LARGER = "qwen2.5-coder:1.5b"


class EvalTests(unittest.TestCase):
    def setUp(self):
        self.home = Path(tempfile.mkdtemp(prefix="hearth-eval-"))
        self.addCleanup(shutil.rmtree, self.home, True)
        (self.home / "models").mkdir()
        for model in (CODER, LARGER):
            source = hearth_home() / "models" / f"{model}.gguf"
            try:
                os.link(source, self.home / "models" / f"{model}.gguf")
            except OSError:
                shutil.copyfile(source, self.home / "models" / f"{model}.gguf")
        # The HumanEval file the test store already fetched, if it did (else this run fetches it).
        fetched = hearth_home() / "datasets" / "HumanEval.jsonl.gz"
        if fetched.exists():
            (self.home / "datasets").mkdir()
            shutil.copyfile(fetched, self.home / "datasets" / "HumanEval.jsonl.gz")

    def eval(self, *arguments, timeout=900):
        return subprocess.run([str(hearth_bin()), "eval", *arguments], env=dict(os.environ, HEARTH_HOME=str(self.home)),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def test_an_endpoint_scores_what_the_same_model_scores_locally(self):
        server = LedgerServer(self.home, "--no-ledger", "--parallel", "2")
        self.addCleanup(server.stop)
        done = self.eval("--suite", "humaneval", "--limit", "6", "--parallel", "2", "--model", CODER,
                         "--endpoint", f"http://127.0.0.1:{server.port}/v1", "--endpoint-model", CODER, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        report = json.loads(done.stdout)
        local, remote = report["runs"]
        self.assertTrue(local["local"])
        self.assertEqual(remote["endpoint"], f"http://127.0.0.1:{server.port}/v1")
        self.assertEqual(local["total"], 6)
        self.assertGreaterEqual(local["passed"], 1, local["items"])
        # The same engine behind two doors: the same answers, judged the same.
        self.assertEqual([(item["id"], item["passed"]) for item in local["items"]],
                         [(item["id"], item["passed"]) for item in remote["items"]])
        self.assertEqual([item["answer"] for item in local["items"]], [item["answer"] for item in remote["items"]])
        self.assertGreater(local["completion_tokens"], 0)
        self.assertGreater(local["saved_usd"], 0)
        self.assertGreater(remote["cost_usd"], 0)
        self.assertIn("network namespace" if os.path.exists("/proc") else "python", report["setting"])

        # Kept in the ledger: --history lists both runs.
        history = self.eval("--history", "--suite", "humaneval")
        self.assertEqual(history.returncode, 0, history.stderr)
        lines = history.stdout.strip().splitlines()
        self.assertEqual(len(lines), 2, history.stdout)
        self.assertIn(f"{CODER} (local)", lines[0])
        self.assertIn(f"@ http://127.0.0.1:{server.port}/v1", lines[1])

    def test_the_quick_suite_calibrates_the_router_a_server_then_follows(self):
        report_file = self.home / "quick.html"
        done = self.eval("--suite", "quick", "--model", CODER, "--model", LARGER, "--write-router", "--report", str(report_file))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("Router calibration: min_mean_logprob", done.stdout)
        policy = json.loads((self.home / "router.json").read_text())
        self.assertEqual(policy["tiers"], [CODER, LARGER])
        self.assertLessEqual(policy["min_mean_logprob"], 0)
        self.assertIn(f"min_mean_logprob {policy['min_mean_logprob']:.3f}", done.stdout)
        html = report_file.read_text()
        self.assertIn("<svg", html)
        self.assertIn(f"{CODER} (local)", html)

        server = LedgerServer(self.home, "--no-ledger")
        self.addCleanup(server.stop)
        status, headers, body = request(server.port, "POST", "/v1/chat/completions", {
            "model": "auto", "max_tokens": 8, "temperature": 0,
            "messages": [{"role": "user", "content": "What is 48 + 76? Answer with the number only."}]})
        self.assertEqual(status, 200, body)
        self.assertIn(f"{policy['min_mean_logprob']:.3f}", headers.get("x-hearth-router", ""), headers)

        # The router itself under evaluation: every answer names the tier that gave it, and the
        # report gives the split and each part's score; a routed run calibrates nothing.
        routed = self.eval("--suite", "quick", "--limit", "12", "--model", "auto", "--json")
        self.assertEqual(routed.returncode, 0, routed.stderr)
        run = json.loads(routed.stdout)["runs"][0]
        self.assertEqual(run["model"], "auto")
        answered = [item["answered_by"] for item in run["items"]]
        self.assertLessEqual(set(answered), {CODER, LARGER})
        split = {part["model"]: (part["items"], part["passed"]) for part in run["answered_by"]}
        self.assertEqual({model: count for model, (count, _) in split.items()},
                         {model: answered.count(model) for model in set(answered)})
        self.assertEqual(sum(passed for _, passed in split.values()), run["passed"])
        self.assertNotIn("router_calibration", json.loads(routed.stdout))

    def test_bad_requests_are_named(self):
        cases = [
            (["--suite", "mmlu", "--model", CODER], "--suite must be one of humaneval, quick"),
            (["--suite", "quick"], "name at least one --model or --endpoint"),
            (["--endpoint", "http://127.0.0.1:9/v1"], "--endpoint-model"),
            (["--endpoint", "ftp://example.com/v1", "--endpoint-model", "m"], "http:// or https://"),
            (["--model", CODER, "--report", "out.pdf"], "--report must end in .html, .md or .json"),
            (["--suite", "humaneval", "--model", CODER, "--write-router"], "--write-router calibrates on the quick suite"),
            (["--model", CODER, "--parallel", "0"], "--parallel must be in 1...64"),
            (["--model", CODER, "--limit", "0"], "--limit must be at least 1"),
            (["--model", CODER, "--timeout", "0"], "--timeout must be in (0, 3600]"),
            (["--model", CODER, "--memory", "10"], "--memory must be in 64...1048576"),
            (["--model", CODER, "--target-accuracy", "1.5"], "--target-accuracy must be in 0...1"),
            (["--endpoint", "http://127.0.0.1:9/v1", "--endpoint", "http://127.0.0.1:10/v1",
              "--endpoint-model", "a", "--endpoint-model", "b", "--endpoint-model", "c"], "one --endpoint-model per --endpoint"),
            (["--endpoint", "http://127.0.0.1:9/v1", "--endpoint-model", "m", "--api-key-file", "/nonexistent/key"],
             "cannot read --api-key-file '/nonexistent/key'"),
            (["--suite", "humaneval", "--model", CODER, "--python", "/nonexistent/python3"], "'/nonexistent/python3' is not an executable file"),
        ]
        for arguments, message in cases:
            done = self.eval(*arguments, timeout=60)
            self.assertNotEqual(done.returncode, 0, arguments)
            self.assertIn(message, done.stderr, arguments)

    def test_an_endpoint_that_does_not_answer_fails_the_run_at_once(self):
        port = free_port()
        done = self.eval("--suite", "quick", "--limit", "2", "--endpoint", f"http://127.0.0.1:{port}/v1", "--endpoint-model", "m",
                         timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn(f"http://127.0.0.1:{port}/v1", done.stderr)
        self.assertIn("no evaluation runs", self.eval("--history").stdout)


if __name__ == "__main__":
    unittest.main()
