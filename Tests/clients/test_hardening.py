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
    server_arguments = ("--idle-timeout", "2")

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
            (("bench", MODEL, "--sampled", "--top-p", "2"), "top_p"),
            (("bench", MODEL, "--sampled", "--mirostat", "3"), "mirostat"),
            (("bench", MODEL, "--sampled", "--repeat-last-n", "-5"), "repeat_last_n"),
            (("run", MODEL, "hi", "--typical-p", "-1"), "typical_p"),
        ]:
            result = self.run_hearth(*arguments)
            self.assertNotEqual(result.returncode, 0, arguments)
            self.assertIn(named, result.stderr, (arguments, result.stderr[-500:]))


if __name__ == "__main__":
    unittest.main()
