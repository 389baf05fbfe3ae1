"""A server that runs for months (issue 20), tested through real sockets against `hearth serve`:
memory given back on unload, idle connections closed, broken framing and Host headers answered
400, and /health responsive while other clients send expensive requests."""

import json
import os
import socket
import threading
import time
import unittest

from test_clients import MODEL, ServerTestCase, hearth_home, request


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/PID/status")


def mapped_models(pid):
    """The GGUF files the process has mapped."""
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1] for line in maps if line.rstrip().endswith(".gguf")}


def raw_exchange(port, data, wait=10):
    """Sends bytes, then reads until the server closes or `wait` seconds pass: (reply, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        if data:
            sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return received, True
            received += chunk
        return received, False
    finally:
        sock.close()


@unittest.skipUnless(os.path.exists("/proc/self/maps"), "needs /proc (Linux)")
class HardeningTests(ServerTestCase):
    server_arguments = ("--idle-timeout", "2", "--header-timeout", "3")

    def test_unloading_returns_the_memory(self):
        def cycle():
            status, _, body = request(self.port, "POST", "/api/generate", {
                "model": MODEL, "prompt": "Hello", "stream": False, "keep_alive": 0, "options": {"num_predict": 1}})
            self.assertEqual(status, 200, body)
            # keep_alive 0 unloads once the request ends; wait for the mapping to go.
            deadline = time.monotonic() + 20
            while mapped_models(self.server.process.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(mapped_models(self.server.process.pid), set(), "the model is still mapped after it was unloaded")

        cycle()
        after_one = resident_kib(self.server.process.pid)
        for _ in range(49):
            cycle()
        after_fifty = resident_kib(self.server.process.pid)
        print(f"\nVmRSS after 1 load/unload cycle: {after_one} KiB, after 50: {after_fifty} KiB")
        # smollm2 leaked about 100 MB a cycle before; 5% (at least 8 MB) is allocator slack.
        self.assertLessEqual(after_fifty, after_one + max(after_one // 20, 8 * 1024),
                             f"VmRSS {after_one} KiB after one load/unload, {after_fifty} KiB after fifty")
        status, _, body = request(self.port, "GET", "/api/ps")
        self.assertEqual((status, json.loads(body)["models"]), (200, []))

    def test_idle_connections_are_closed(self):
        started = time.monotonic()
        _, closed = raw_exchange(self.port, b"", wait=15)
        self.assertTrue(closed, "a connection that sends nothing stayed open")
        self.assertLess(time.monotonic() - started, 10)
        # Headers begun and never finished.
        _, closed = raw_exchange(self.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n", wait=15)
        self.assertTrue(closed, "a connection that never finished its headers stayed open")
        # A body announced and never sent.
        _, closed = raw_exchange(self.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                                            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\"", wait=15)
        self.assertTrue(closed, "a connection whose body never came stayed open")
        status, _, _ = request(self.port, "GET", "/health")
        self.assertEqual(status, 200)

    def test_malformed_framing_is_a_bad_request(self):
        reply, _ = raw_exchange(self.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                                           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                           b"zz\r\n{}\r\n0\r\n\r\n", wait=10)
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:200])

    def test_bad_hosts_are_bad_requests(self):
        for host in (b"[::1]evil.example", b"[::1].evil.example", b"a:b:c"):
            reply, _ = raw_exchange(self.port, b"GET /api/tags HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), (host, reply[:200]))
        reply, _ = raw_exchange(self.port, b"GET /api/tags HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n"
                                           b"Connection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:200])
        reply, _ = raw_exchange(self.port, b"GET /api/tags HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])

    def test_the_request_line_is_checked_with_its_host(self):
        def status_of(data):
            reply, _ = raw_exchange(self.port, data)
            return reply.split(b"\r\n", 1)[0]

        # HTTP/1.1 requires a Host header; HTTP/1.0 predates it.
        self.assertTrue(status_of(b"GET /api/tags HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 400"))
        self.assertTrue(status_of(b"GET /api/version HTTP/1.0\r\n\r\n").endswith(b"200 OK"))
        # An absolute-form target must agree with the Host header; when it does, it is served.
        self.assertTrue(status_of(b"GET http://evil.example/api/tags HTTP/1.1\r\nHost: localhost\r\n"
                                  b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 400"))
        self.assertTrue(status_of(b"GET http://localhost:%d/api/version HTTP/1.1\r\nHost: localhost:%d\r\n"
                                  b"Connection: close\r\n\r\n" % (self.port, self.port)).startswith(b"HTTP/1.1 200"))
        self.assertTrue(status_of(b"GET HTTP://LOCALHOST/api/version?x=1 HTTP/1.1\r\nHost: localhost\r\n"
                                  b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 200"))
        # Without a Host header the target's host is the one judged: a foreign name is refused.
        self.assertTrue(status_of(b"GET http://evil.example/api/tags HTTP/1.0\r\n\r\n").endswith(b"403 Forbidden"))
        self.assertTrue(status_of(b"GET http://user@localhost/api/tags HTTP/1.1\r\nHost: localhost\r\n"
                                  b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 400"))
        # The header that carries a framing problem inside the server cannot be sent by a client.
        self.assertTrue(status_of(b"GET /api/version HTTP/1.1\r\nHost: localhost\r\nX-Hearth-Framing-Problem: x\r\n"
                                  b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 200"))

    def test_headers_that_trickle_in_are_cut_off(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        started = time.monotonic()
        closed = False
        try:
            # One byte every 0.4 s never leaves the connection idle for the 2 s idle timeout.
            for byte in b"GET /api/version HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100:
                sock.send(bytes([byte]))
                time.sleep(0.4)
                if time.monotonic() - started > 20:
                    break
        except OSError:
            closed = True
        finally:
            sock.close()
        self.assertTrue(closed, "a request whose headers trickled in for 20 s was still being read")
        self.assertLess(time.monotonic() - started, 10)

    def test_health_stays_responsive_under_expensive_requests(self):
        # 8 clients each send bodies of 200,000 keys (3 MB) as fast as they are answered.
        body = ("{" + ",".join(f'"k{i}":{i}' for i in range(200_000)) + "}").encode()
        stop = threading.Event()
        answered = []

        def hostile():
            while not stop.is_set():
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
                try:
                    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                 b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    reply = b""
                    while chunk := sock.recv(65536):
                        reply += chunk
                    answered.append(reply.split(b"\r\n", 1)[0])
                finally:
                    sock.close()

        clients = [threading.Thread(target=hostile, daemon=True) for _ in range(8)]
        for client in clients:
            client.start()
        try:
            time.sleep(1)
            latencies = []
            for _ in range(20):
                started = time.monotonic()
                status, _, _ = request(self.port, "GET", "/health", timeout=30)
                latencies.append(time.monotonic() - started)
                self.assertEqual(status, 200)
                time.sleep(0.05)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=60)
        self.assertTrue(answered, "no hostile request was answered")
        self.assertTrue(all(line.startswith(b"HTTP/1.1 400") for line in answered), answered[:3])
        latencies.sort()
        print(f"\n/health under 8 hostile clients: median {latencies[10] * 1e3:.1f} ms, worst {latencies[-1] * 1e3:.1f} ms, "
              f"{len(answered)} hostile requests answered")
        # The issue asks for under 100 ms; a loaded CI machine gets headroom for its scheduler.
        self.assertLess(latencies[10], 0.1, f"median /health latency {latencies[10]:.3f} s")
        self.assertLess(latencies[-1], 1.0, f"worst /health latency {latencies[-1]:.3f} s")


class ConnectionLimitTests(ServerTestCase):
    """Connections past the caps are answered 503 and closed; closing frees their places."""
    server_arguments = ("--max-connections", "5", "--max-connections-per-client", "3")

    def connect(self, source):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10, source_address=(source, 0))
        self.addCleanup(sock.close)
        return sock

    def hold(self, source):
        """A connection the server has admitted: one keep-alive request answered on it. (Counting
        happens when the server sets the connection up, on one of its event loops; a connection
        merely opened may not be counted yet when the next one arrives on a busy machine.)"""
        sock = self.connect(source)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, f"the server closed a connection from {source}: {reply[:200]!r}")
            reply += chunk
        head, body = reply.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        while len(body) < length:
            chunk = sock.recv(65536)
            self.assertTrue(chunk)
            body += chunk
        return sock

    def answer(self, source):
        sock = self.connect(source)
        sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        return reply

    def test_caps_per_client_and_in_total(self):
        held = [self.hold("127.0.0.1") for _ in range(3)]
        reply = self.answer("127.0.0.1")
        self.assertTrue(reply.startswith(b"HTTP/1.1 503"), reply[:200])
        self.assertIn(b"per client", reply)
        # Another client address still gets in, up to the total of 5.
        held += [self.hold("127.0.0.2") for _ in range(2)]
        reply = self.answer("127.0.0.3")
        self.assertTrue(reply.startswith(b"HTTP/1.1 503"), reply[:200])
        self.assertIn(b"--max-connections", reply)
        for sock in held:
            sock.close()
        # The server frees a place when it sees the close, on a busy machine a moment later.
        deadline = time.monotonic() + 10
        while not (reply := self.answer("127.0.0.1")).startswith(b"HTTP/1.1 200") and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])


class ServedFileTests(unittest.TestCase):
    """`serve --model PATH.gguf` serves the file in place under its file name."""

    def test_a_gguf_path_is_served_under_its_file_name(self):
        import shutil
        import tempfile
        from test_clients import Server
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "served-file.gguf")
        os.symlink(hearth_home() / "models" / f"{MODEL}.gguf", path)
        server = Server("--model", path)
        self.addCleanup(ServerTestCase.stop_server, server)
        status, _, body = request(server.port, "GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertIn("served-file", [model["id"] for model in json.loads(body)["data"]])
        # As apps call it: the official client on its default settings.
        from openai import OpenAI
        client = OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused")
        self.addCleanup(client.close)
        completion = client.chat.completions.create(model="served-file", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        self.assertEqual(completion.model, "served-file")
        self.assertTrue(completion.choices[0].message.content)
        status, _, body = request(server.port, "POST", "/api/copy", {"source": "served-file", "destination": "copied"})
        self.assertEqual(status, 400, body)

    def test_a_file_named_like_an_installed_model_is_refused(self):
        import subprocess
        from hearth_process import hearth_bin
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        result = subprocess.run([str(hearth_bin()), "serve", "--port", "0", "--model", str(hearth_home() / "models" / f"{MODEL}.gguf")],
                                env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("already served or installed", result.stderr)

    def test_bad_model_paths_are_refused_naming_them(self):
        import shutil
        import subprocess
        import tempfile
        from hearth_process import hearth_bin
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        badly_named = os.path.join(folder, "two words.gguf")
        os.symlink(hearth_home() / "models" / f"{MODEL}.gguf", badly_named)
        not_gguf = os.path.join(folder, "notes.gguf")
        with open(not_gguf, "w") as file:
            file.write("not a model")
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        for path, named in [(os.path.join(folder, "missing.gguf"), "no such file"), (badly_named, "not a valid model name"),
                            (not_gguf, "notes.gguf"), (folder, "not a regular file")]:
            result = subprocess.run([str(hearth_bin()), "serve", "--port", "0", "--model", path],
                                    env=env, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(result.returncode, 0, path)
            self.assertIn(named, result.stderr, (path, result.stderr[-500:]))


class CommandLineTests(unittest.TestCase):
    """Bad flags are refused before anything is loaded, naming the flag."""

    def run_hearth(self, *arguments):
        import subprocess
        from hearth_process import hearth_bin
        env = dict(os.environ, HEARTH_HOME=str(hearth_home()))
        return subprocess.run([str(hearth_bin()), *arguments], env=env, capture_output=True, text=True, timeout=60)

    def test_bad_flags_are_refused_naming_them(self):
        for arguments, named in [
            (("serve", "--idle-timeout", "-1"), "--idle-timeout"),
            (("serve", "--idle-timeout", "100000"), "--idle-timeout"),
            (("serve", "--header-timeout", "-1"), "--header-timeout"),
            (("serve", "--max-connections", "0"), "--max-connections"),
            (("serve", "--max-connections", "4", "--max-connections-per-client", "5"), "--max-connections-per-client"),
            (("bench", MODEL, "--sampled", "--top-p", "2"), "top_p"),
            (("bench", MODEL, "--sampled", "--mirostat", "3"), "mirostat"),
            (("bench", MODEL, "--sampled", "--repeat-last-n", "-5"), "repeat_last_n"),
            (("run", MODEL, "hi", "--typical-p", "-1"), "typical_p"),
            (("bench", MODEL, "--ngram", "--draft-max", "0"), "--draft-max"),
            (("bench", MODEL, "--ngram", "--draft-max", "65"), "--draft-max"),
            (("bench", MODEL, "--prompt-file", "/tmp/x.txt"), "--prompt-file"),
            (("bench", MODEL, "--ngram", "--tg", "0"), "--ngram"),
            # Prompt lookup is on by default: turning it on and off at once, or sizing proposals
            # with it off, is refused.
            (("run", MODEL, "hi", "--ngram", "--no-ngram"), "--no-ngram"),
            (("serve", "--no-ngram", "--ngram"), "--ngram"),
            (("run", MODEL, "hi", "--no-ngram", "--draft-max", "8"), "--draft-max"),
            (("bench", MODEL, "--ngram", "--pp", "0", "--tg", "4", "--prompt-file", "/nonexistent/prompt.txt"), "/nonexistent/prompt.txt"),
        ]:
            result = self.run_hearth(*arguments)
            self.assertNotEqual(result.returncode, 0, arguments)
            self.assertIn(named, result.stderr, (arguments, result.stderr[-500:]))


if __name__ == "__main__":
    unittest.main()
