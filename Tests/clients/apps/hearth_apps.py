"""Shared harness for the app/framework end-to-end tests (test_langchain.py, test_litellm.py,
test_aider.py): a live `hearth serve` and, in front of it, a recording reverse proxy.

Each test class starts its own `hearth serve` (a subprocess on a free loopback port, with
HEARTH_HOME pointing at the test store, on the server's default settings) and stops it at the end
with SIGTERM, checking that it exits 0 — the approach of Tests/clients/test_clients.py. The apps
are pointed at a small reverse proxy in this process that forwards every request unchanged and
records it with Hearth's answer, so a failing test prints exactly what the app sent (route, body,
the headers that matter) and what Hearth answered (status, body). Every exchange of a run also
goes to $HEARTH_APPS_LOG_DIR/exchanges.jsonl (default: a fresh temporary folder, printed).

    HEARTH_BIN            the server binary (default .build/release/hearth, relative to the repo)
    HEARTH_TEST_HOME      the model store (default ~/.cache/hearth-test)
    HEARTH_APPS_LOG_DIR   where exchanges.jsonl is written
    HEARTH_APPS_DIRECT=1  point the apps straight at the server (no proxy)
    HEARTH_APPS_VERBOSE=1 print every exchange of every test (not only a failing test's errors)
    HEARTH_APPS_STRIP     fields the proxy removes from JSON request bodies before forwarding, to
                          find the failure *behind* a known one: comma-separated paths, `[]` for
                          every item of a list, `=JSON` to remove only that value, e.g.
                          `options.num_ctx,messages[].images,format="",think=false`.
                          The log keeps what the app sent and lists what was removed.

Run with scripts/test-apps, which makes the virtualenvs and installs the pinned apps.
"""

import http.client
import http.server
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hearth_process import RUNNING, REPO, free_port, hearth_bin, hearth_home  # noqa: E402

# Any model will do: the fastest.
SMALL_MODEL = "smollm2:135m"
SMALL_EMBEDDING_SIZE = 576  # smollm2-135m's llama.embedding_length
# Short JSON answers: smollm2:135m, constrained to JSON, often never closes its object.
JSON_MODEL = "qwen2.5-coder:0.5b"
# Tool calls, structured output and code edits: the strongest installed model.
TOOL_MODEL = "qwen2.5-coder:1.5b"
STARTUP_SECONDS = 60
REQUEST_TIMEOUT = 600  # a 2-core machine shared with others: qwen2.5-coder:1.5b prefill is slow

# The clients (httpx, requests, aiohttp) honour *_PROXY variables; loopback never goes through one.
# This machine has no network but the package registries. LiteLLM fetches its model cost map from
# GitHub when imported unless told to use the copy it ships; this changes no request it sends.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def offline_tiktoken():
    """Point tiktoken at the cl100k_base (and other) encoding files that LiteLLM ships, so that
    tiktoken (LangChain's OpenAIEmbeddings tokenizes with it by default) works without fetching
    them from OpenAI's blob store. The files are the same bytes, named as tiktoken caches them."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return
    spec = importlib.util.find_spec("litellm")
    if spec and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


_log_dir = None


def log_dir():
    global _log_dir
    if _log_dir is None:
        configured = os.environ.get("HEARTH_APPS_LOG_DIR")
        _log_dir = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="hearth-apps-"))
        _log_dir.mkdir(parents=True, exist_ok=True)
        print(f"hearth-apps: every request and answer is logged in {_log_dir / 'exchanges.jsonl'}", file=sys.stderr)
    return _log_dir


def http_request(port, method, path, body=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


class Server:
    """A `hearth serve` subprocess on a free loopback port, on its default settings."""

    def __init__(self, *arguments):
        binary = hearth_bin()
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"no server binary at {binary} (set HEARTH_BIN)")
        self.port = free_port()
        self.arguments = ["serve", "--port", str(self.port), *arguments]
        self.stderr = tempfile.TemporaryFile()
        self.stdout = tempfile.TemporaryFile()
        self.final_stderr = ""
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        self.process = subprocess.Popen([str(binary), *self.arguments], env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.stdout, stderr=self.stderr)
        RUNNING.append(self.process)
        self._wait_until_healthy()

    def stderr_text(self):
        """The end of what the server wrote to stderr (kept after stop() closes the file)."""
        if not self.stderr.closed:
            self.stderr.seek(0)
            self.final_stderr = self.stderr.read().decode(errors="replace")[-4000:]
        return self.final_stderr

    def _wait_until_healthy(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hearth {' '.join(self.arguments)} exited with {self.process.returncode} "
                                     f"before it was ready:\n{self.stderr_text()}")
            try:
                status, body = http_request(self.port, "GET", "/health", timeout=2)
                if status == 200:
                    return
                last_error = f"GET /health answered {status}: {body[:200]!r}"
            except OSError as error:
                last_error = repr(error)
            time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        raise AssertionError(f"hearth not healthy within {STARTUP_SECONDS} s ({last_error}):\n{self.stderr_text()}")

    def stop(self, timeout=60):
        """SIGTERM, then the exit code (killing it if it does not exit within `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"hearth did not exit within {timeout} s of SIGTERM:\n{self.stderr_text()}")
        finally:
            self.stderr_text()
            self.stderr.close()
            self.stdout.close()


# MARK: - Recording proxy

# Request headers worth reporting (an app's identity and what it negotiates); the rest is noise.
REPORTED_HEADERS = {"content-type", "accept", "user-agent", "authorization", "x-stainless-lang",
                    "x-stainless-package-version", "x-stainless-retry-count", "openai-organization", "api-key"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length", "host"}
RECORDED_RESPONSE_BYTES = 16000


class RecordingProxy:
    """A threaded HTTP reverse proxy from a free loopback port to the server: forwards each request
    unchanged (streams answers through as they come) and records request and answer."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.exchanges = []
        self.label = ""
        self.lock = threading.Lock()
        self.active = 0
        self.idle = threading.Condition(self.lock)
        self.log = open(log_dir() / "exchanges.jsonl", "a", encoding="utf-8")
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *arguments):
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self):
                with proxy.lock:
                    proxy.active += 1
                try:
                    self._forward_and_record()
                finally:
                    with proxy.lock:
                        proxy.active -= 1
                        proxy.idle.notify_all()

            def _forward_and_record(self):
                started = time.monotonic()
                body = self._read_body()
                forwarded, removed = _rewrite(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = f"127.0.0.1:{proxy.upstream_port}"
                if forwarded or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(forwarded))
                record = {"label": proxy.label, "method": self.command, "path": self.path,
                          "headers": {k.lower(): (v if k.lower() not in ("authorization", "api-key") else v[:12])
                                      for k, v in self.headers.items() if k.lower() in REPORTED_HEADERS},
                          "body": _decode(body)}
                if removed:
                    record["stripped"] = removed
                received = bytearray()
                try:
                    upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=REQUEST_TIMEOUT)
                    upstream.request(self.command, self.path, body=forwarded or None, headers=headers)
                    response = upstream.getresponse()
                    record["status"] = response.status
                    self.send_response_only(response.status, response.reason)
                    length = response.getheader("Content-Length")
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    if length is not None:
                        self.send_header("Content-Length", length)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    if self.command != "HEAD":
                        while True:
                            chunk = response.read1(65536)
                            if not chunk:
                                break
                            if len(received) < RECORDED_RESPONSE_BYTES:
                                received += chunk[:RECORDED_RESPONSE_BYTES - len(received)]
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    upstream.close()
                except (BrokenPipeError, ConnectionResetError) as error:
                    record["error"] = f"client went away: {error!r}"
                except OSError as error:
                    record["error"] = f"upstream: {error!r}"
                    if "status" not in record:
                        self.close_connection = True
                        try:
                            self.send_error(502, f"proxy: {error}")
                        except OSError:
                            pass
                record["response"] = _decode(bytes(received))
                record["seconds"] = round(time.monotonic() - started, 3)
                proxy._record(record)

            do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _record(self, record):
        with self.lock:
            self.exchanges.append(record)
            self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.log.flush()

    def settle(self, timeout=10):
        """Waits until no request is in flight (an app can have read a whole answer before the
        proxy has recorded it)."""
        with self.lock:
            self.idle.wait_for(lambda: self.active == 0, timeout=timeout)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.log.close()


def strip_rules():
    """HEARTH_APPS_STRIP parsed: [(path parts, value to match or NOTHING)]."""
    rules = []
    for rule in filter(None, (item.strip() for item in os.environ.get("HEARTH_APPS_STRIP", "").split(","))):
        path, _, value = rule.partition("=")
        rules.append((path.split("."), json.loads(value) if value else NOTHING))
    return rules


NOTHING = object()


def strip_fields(value, parts, match, where=""):
    """Removes the field at `parts` (a `name[]` part walks every item of a list) from `value`,
    where it equals `match` (or always); returns the paths removed."""
    if not isinstance(value, dict) or not parts:
        return []
    name, rest = parts[0], parts[1:]
    if name.endswith("[]"):
        items = value.get(name[:-2])
        if not isinstance(items, list):
            return []
        return [path for index, item in enumerate(items)
                for path in strip_fields(item, rest, match, f"{where}{name[:-2]}[{index}].")]
    if name not in value:
        return []
    if rest:
        return strip_fields(value[name], rest, match, f"{where}{name}.")
    if match is not NOTHING and value[name] != match:
        return []
    del value[name]
    return [where + name]


def _rewrite(body):
    """The body with HEARTH_APPS_STRIP's fields removed, and what was removed."""
    rules = strip_rules()
    if not rules or not body:
        return body, []
    try:
        parsed = json.loads(body)
    except ValueError:
        return body, []
    removed = [path for parts, match in rules for path in strip_fields(parsed, parts, match)]
    return (json.dumps(parsed).encode() if removed else body), removed


def _decode(data):
    if not data:
        return None
    text = data.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shorten(value, limit=400):
    """A JSON value with long strings and lists cut, for a readable failure report."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"…(+{len(value) - limit} chars)"
    if isinstance(value, list):
        items = [_shorten(item, limit) for item in value[:8]]
        return items + [f"…(+{len(value) - 8} items)"] if len(value) > 8 else items
    if isinstance(value, dict):
        return {key: _shorten(item, limit) for key, item in value.items()}
    return value


def describe(record, limit=400):
    """One exchange as text: the request the app sent and what Hearth answered."""
    failed = record.get("status", 599) >= 400
    answer = json.dumps(_shorten(record.get("response"), 1500 if failed else 200), ensure_ascii=False)
    if len(answer) > (3000 if failed else 300):
        answer = answer[:3000 if failed else 300] + "…"
    lines = [f"{record['method']} {record['path']} -> {record.get('status', '?')} ({record.get('seconds')} s)",
             f"  headers: {json.dumps(record['headers'])}"]
    if record.get("body") is not None:
        lines.append(f"  request: {json.dumps(_shorten(record['body'], limit), ensure_ascii=False)}")
    if record.get("stripped"):
        lines.append(f"  stripped by HEARTH_APPS_STRIP before forwarding: {', '.join(record['stripped'])}")
    lines.append(f"  answer:  {answer}")
    if record.get("error"):
        lines.append(f"  proxy:   {record['error']}")
    return "\n".join(lines)


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


class AppTestCase(unittest.TestCase):
    """Starts one `hearth serve` (default settings) serving nothing preloaded and a recording
    proxy in front of it for the class; stops the server with SIGTERM at the end and checks exit 0.

    `self.base` is the URL the app is given (the proxy's, or the server's with HEARTH_APPS_DIRECT=1);
    `self.exchanges()` is what this test sent and got. A test that fails prints every exchange of
    its own that Hearth answered with an error (or all of them, with HEARTH_APPS_VERBOSE=1)."""

    models = (SMALL_MODEL,)

    @classmethod
    def setUpClass(cls):
        missing = [model for model in cls.models if not (hearth_home() / "manifests" / f"{model}.json").exists()]
        if missing:
            raise AssertionError(f"{', '.join(missing)} not installed in {hearth_home()} "
                                 f"(run scripts/test, or set HEARTH_TEST_HOME)")
        cls.server = Server()
        cls.addClassCleanup(cls._stop_server, cls.server)
        cls.proxy = RecordingProxy(cls.server.port)
        cls.addClassCleanup(cls.proxy.stop)
        # Without the proxy nothing is recorded: the checks of what an app sent are skipped.
        cls.recording = os.environ.get("HEARTH_APPS_DIRECT") != "1"
        cls.base = f"http://127.0.0.1:{cls.proxy.port if cls.recording else cls.server.port}"
        if os.environ.get("HEARTH_APPS_STRIP"):
            print(f"\nhearth-apps: HEARTH_APPS_STRIP={os.environ['HEARTH_APPS_STRIP']}: the proxy removes these fields, "
                  f"so a pass here is not a pass of the app as it is", file=sys.stderr)

    @staticmethod
    def _stop_server(server):
        code = server.stop()
        if code != 0:
            raise AssertionError(f"hearth exited with {code} after SIGTERM (expected 0):\n{server.stderr_text()}")

    def setUp(self):
        self.proxy.settle()
        self.proxy.label = self.id()
        self._first_exchange = len(self.proxy.exchanges)
        self._started = time.monotonic()

    def tearDown(self):
        seconds = time.monotonic() - self._started
        exchanges = self.exchanges()
        failed = _test_failed(self)
        verbose = os.environ.get("HEARTH_APPS_VERBOSE") == "1"
        shown = [record for record in exchanges
                 if verbose or record.get("status", 599) >= 400 or record.get("error")]
        if (failed or verbose) and shown:
            report = "\n".join(describe(record) for record in shown)
            print(f"\n--- {self.id()}: {len(shown)} of {len(exchanges)} exchanges ({seconds:.1f} s) ---\n{report}",
                  file=sys.stderr)
        routes = ", ".join(f"{r['method']} {r['path'].split('?')[0]} {r.get('status', '?')}" for r in exchanges)
        print(f"\n[{self.id()}: {seconds:.1f} s; {routes}]", file=sys.stderr)

    def exchanges(self):
        self.proxy.settle()
        return list(self.proxy.exchanges[self._first_exchange:])

    def errors(self):
        """This test's exchanges that Hearth answered with a 4xx/5xx."""
        return [record for record in self.exchanges() if record.get("status", 599) >= 400]

    def assertNoHTTPErrors(self):
        errors = self.errors()
        if errors:
            self.fail("Hearth refused requests:\n" + "\n".join(describe(record) for record in errors))

    def requests_to(self, path):
        return [record for record in self.exchanges() if record["path"].split("?")[0] == path]


def _test_failed(test):
    """Whether the running test has failed or errored so far (Python 3.11+'s _Outcome)."""
    outcome = getattr(test, "_outcome", None)
    result = getattr(outcome, "result", None)
    if result is None:
        return True
    for _, failures in (("f", getattr(result, "failures", [])), ("e", getattr(result, "errors", []))):
        if any(case is test for case, _ in failures):
            return True
    return not getattr(outcome, "success", True)
