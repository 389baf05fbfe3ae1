"""Many `hearth serve` replicas behind nginx (docs/scaling.md): Debian's nginx, running the
documented deploy/nginx/hearth.conf, in front of three replicas on loopback.

A bounded load of streaming multi-turn chats goes through nginx three times:
  A. with prefix affinity (`hash $http_x_hearth_affinity consistent`): every conversation stays
     on one replica, whose KV cache holds it;
  B. round-robin (the same upstream without the hash): turns scatter over the replicas;
  C. with affinity again while the busiest replica is killed (SIGKILL) mid-run and restarted, and
     another is drained (SIGTERM: /health turns 503, the streams in flight finish, exit 0) and
     restarted, as in a rolling restart.
Nothing may fail that had not started streaming (nginx retries it on another replica); streams
cut off by the SIGKILL are counted. The prefix-cache hit rates of A and B are measured by the
clients (`usage.prompt_tokens_details.cached_tokens`) and by the replicas' /metrics, and printed
with the other numbers (BENCHMARKS.md records a run).
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from hearth_process import REPO, RUNNING, free_port, hearth_bin, store_with

MODEL = "smollm2:135m"
REPLICAS = 3
CONVERSATIONS = 8
TURNS = 4
WORKERS = 4
MAX_TOKENS = 12
DRAIN_DELAY = 2
REQUEST_TIMEOUT = 300
STARTUP_SECONDS = 120
NGINX_CONFIG = REPO / "deploy" / "nginx" / "hearth.conf"

SYSTEM = "You answer questions about the notes in the user's first message, in a few words."
ANIMALS = ["fox", "owl", "otter", "heron", "lynx", "badger", "crane", "marten", "wren", "ibex", "stoat", "hare"]
COLOURS = ["red", "grey", "brown", "white", "black", "golden", "silver", "speckled"]
PLACES = ["Lyon", "Porto", "Ghent", "Turku", "Bergen", "Graz", "Split", "Tartu", "Cork", "Brno", "Pecs", "Kaunas"]


def affinity_key(messages):
    """The documented rule (docs/scaling.md): the first 16 hex digits of the SHA-256 of the
    first user message's text."""
    first = next(message["content"] for message in messages if message["role"] == "user")
    return hashlib.sha256(first.encode()).hexdigest()[:16]


def notes(phase, number):
    """A conversation's first message: notes of its own (a few hundred tokens) and a question."""
    lines = [f"Notes of survey {phase}-{number}:"]
    for index in range(24):
        animal = ANIMALS[(number * 7 + index * 5) % len(ANIMALS)]
        colour = COLOURS[(number + index * 3) % len(COLOURS)]
        place = PLACES[(number * 3 + index) % len(PLACES)]
        lines.append(f"{index + 1}. In {place} the team of {phase}{number} saw a {colour} {animal} near the river.")
    lines.append(f"Question 1: which animal did the team see first in {PLACES[(number * 3) % len(PLACES)]}?")
    return "\n".join(lines)


def http_request(port, method, path, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def metric_values(text, name):
    """{labels: value} of one metric in Prometheus' text format."""
    values = {}
    for line in text.splitlines():
        match = re.match(r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", line)
        if match:
            values[match.group(1) or ""] = float(match.group(2))
    return values


class Replica:
    """One `hearth serve` on a fixed port (a restart takes the same one, as a pod's would)."""

    def __init__(self, home, name, port):
        self.home, self.name, self.port = home, name, port
        self.process = None
        self.log = None
        self.started_at = None

    def start(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(hearth_bin()), "serve", "--port", str(self.port), "--model", MODEL, "--replica-name", self.name,
             "--parallel", "2", "--ctx", "2048", "--threads", "1", "--keep-alive", "-1", "--no-ledger",
             "--drain-delay", str(DRAIN_DELAY)],
            env=dict(os.environ, HEARTH_HOME=str(self.home)), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log)
        RUNNING.append(self.process)

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"replica {self.name} exited with {self.process.returncode}: {self.stderr()}")
            try:
                if http_request(self.port, "GET", "/health", timeout=2)[0] == 200:
                    self.started_at = time.monotonic()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica {self.name} did not become ready: {self.stderr()}")

    def health(self):
        status, _, body = http_request(self.port, "GET", "/health", timeout=5)
        return status, json.loads(body)

    def metrics(self):
        return http_request(self.port, "GET", "/metrics", timeout=10)[2].decode()

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def start_again(self):
        """A new process on the same port, as a restarted pod's."""
        self.close_log()
        self.start()

    def close_log(self):
        if self.log:
            self.log.close()
            self.log = None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self):
        self.kill()
        self.close_log()


class Nginx:
    """Debian's nginx running deploy/nginx/hearth.conf twice: as written (affinity) and without
    its `hash` line (round-robin), each on its own port, in front of the same replicas."""

    def __init__(self, directory, replica_ports):
        self.directory = directory
        self.affinity_port, self.round_robin_port = free_port(), free_port()
        documented = NGINX_CONFIG.read_text()
        servers = re.findall(r"server 127\.0\.0\.1:\d+", documented)
        assert len(servers) == REPLICAS, f"{NGINX_CONFIG} should list {REPLICAS} replicas, found {servers}"
        ports = iter(replica_ports)
        local = re.sub(r"server 127\.0\.0\.1:\d+", lambda _: f"server 127.0.0.1:{next(ports)}", documented)
        affinity = local.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.affinity_port};")
        round_robin = (local.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{self.round_robin_port};")
                       .replace("hash $http_x_hearth_affinity consistent;", "")
                       .replace("upstream hearth ", "upstream hearth_round_robin ")
                       .replace("proxy_pass http://hearth;", "proxy_pass http://hearth_round_robin;"))
        assert "hash $http_x_hearth_affinity consistent;" in affinity and "hash " not in round_robin.split("server {")[0]
        (directory / "affinity.conf").write_text(affinity)
        (directory / "round_robin.conf").write_text(round_robin)
        temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir()
        self.access_log = directory / "access.log"
        # As root nginx would hand its worker to `nobody`, who cannot write this folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text(f"""{user}worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    log_format replicas '$status "$upstream_addr" "$upstream_status" $http_x_hearth_affinity';
    access_log {self.access_log} replicas;
    include {directory}/affinity.conf;
    include {directory}/round_robin.conf;
}}
""")
        self.process = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(directory), "-c", str(directory / "nginx.conf"),
             "-e", str(directory / "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        RUNNING.append(self.process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited with {self.process.returncode}: {self.error_log()}")
            try:
                http_request(self.affinity_port, "GET", "/health", timeout=2)
                http_request(self.round_robin_port, "GET", "/health", timeout=2)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"nginx did not start: {self.error_log()}")

    def error_log(self):
        path = self.directory / "error.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def access_lines(self):
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Outcome:
    """One chat request as the client saw it."""

    def __init__(self, conversation, turn):
        self.conversation, self.turn = conversation, turn
        self.status = None          # the HTTP status, None when no response arrived
        self.started = False        # a 200 and its headers arrived (with Hearth: the first token)
        self.completed = False      # the stream ended with [DONE]
        self.error = None
        self.replica = None
        self.affinity = None
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.text = ""
        self.answered_at = None


def stream_chat(port, messages, key):
    """One streaming chat through nginx; never raises."""
    outcome = Outcome(None, None)
    body = {"model": MODEL, "messages": messages, "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": MAX_TOKENS, "temperature": 0}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("POST", "/v1/chat/completions", body=json.dumps(body),
                           headers={"Content-Type": "application/json", "X-Hearth-Affinity": key})
        response = connection.getresponse()
        outcome.status = response.status
        outcome.replica = response.getheader("X-Hearth-Replica")
        outcome.affinity = response.getheader("X-Hearth-Affinity")
        if response.status != 200:
            outcome.error = response.read()[:300].decode(errors="replace")
            return outcome
        outcome.started = True
        outcome.answered_at = time.monotonic()
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            data = line[len("data: "):]
            if data == "[DONE]":
                outcome.completed = True
                break
            event = json.loads(data)
            if "error" in event:
                outcome.error = json.dumps(event["error"])
                break
            for choice in event.get("choices", []):
                outcome.text += choice.get("delta", {}).get("content") or ""
            if event.get("usage"):
                outcome.prompt_tokens = event["usage"]["prompt_tokens"]
                outcome.cached_tokens = (event["usage"].get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        if not outcome.completed and outcome.error is None:
            outcome.error = "the stream ended without [DONE]"
    except (OSError, http.client.HTTPException, ValueError) as error:
        outcome.error = repr(error)
    finally:
        connection.close()
    return outcome


class Load:
    """CONVERSATIONS conversations of TURNS turns each, WORKERS at a time, through one nginx port."""

    def __init__(self, port, phase):
        self.port = port
        self.conversations = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": notes(phase, number)}]
                              for number in range(CONVERSATIONS)]
        self.outcomes = []
        self.lock = threading.Lock()
        self.next_conversation = 0

    @property
    def total(self):
        return CONVERSATIONS * TURNS

    def done(self):
        with self.lock:
            return sum(1 for outcome in self.outcomes if outcome.completed)

    def worker(self):
        while True:
            with self.lock:
                if self.next_conversation >= CONVERSATIONS:
                    return
                number = self.next_conversation
                self.next_conversation += 1
            messages = self.conversations[number]
            key = affinity_key(messages)
            turn = 0
            while turn < TURNS:
                outcome = stream_chat(self.port, messages, key)
                outcome.conversation, outcome.turn = number, turn
                with self.lock:
                    self.outcomes.append(outcome)
                if not outcome.completed:
                    if outcome.started:
                        continue  # cut off mid-stream (its replica was killed): the client asks again
                    break  # failed without an answer: counted, and this conversation stops
                messages.append({"role": "assistant", "content": outcome.text})
                messages.append({"role": "user", "content": f"Question {turn + 2}: and which animal came after it? Answer briefly."})
                turn += 1

    def wait_until_done(self, count):
        """Until `count` requests have been answered, or every client has finished."""
        while self.done() < count and any(thread.is_alive() for thread in self.threads):
            time.sleep(0.05)
        if self.done() < count:
            raise AssertionError(f"the clients finished with {self.done()} answers, fewer than {count}")

    def run(self, during=None):
        self.threads = [threading.Thread(target=self.worker) for _ in range(WORKERS)]
        started = time.monotonic()
        for thread in self.threads:
            thread.start()
        try:
            if during:
                during(self)
        finally:
            for thread in self.threads:
                thread.join()
        return time.monotonic() - started

    def hit_rate(self):
        answered = [outcome for outcome in self.outcomes if outcome.completed]
        prompt = sum(outcome.prompt_tokens for outcome in answered)
        return sum(outcome.cached_tokens for outcome in answered) / prompt if prompt else 0.0


class ReplicasBehindNginxTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
            raise unittest.SkipTest("nginx is not installed (scripts/test-clients installs Debian's nginx-light)")
        cls.home = store_with("hearth-replicas-", MODEL)
        cls.addClassCleanup(shutil.rmtree, cls.home, True)
        cls.replicas = [Replica(cls.home, f"replica-{index + 1}", free_port()) for index in range(REPLICAS)]
        for replica in cls.replicas:
            cls.addClassCleanup(replica.stop)
            replica.start()
        for replica in cls.replicas:
            replica.wait_ready()
        cls.nginx_directory = Path(tempfile.mkdtemp(prefix="hearth-nginx-"))
        cls.addClassCleanup(shutil.rmtree, cls.nginx_directory, True)
        cls.nginx = Nginx(cls.nginx_directory, [replica.port for replica in cls.replicas])
        cls.addClassCleanup(cls.nginx.stop)
        cls.report = {}

    def prefix_counters(self):
        """(hit tokens, queried tokens) summed over the replicas' /metrics."""
        hits = queried = 0
        for replica in self.replicas:
            text = replica.metrics()
            hits += sum(metric_values(text, "hearth_prefix_cache_hit_tokens_total").values())
            queried += sum(metric_values(text, "hearth_prefix_cache_queried_tokens_total").values())
        return hits, queried

    def measured_phase(self, port, phase):
        before = self.prefix_counters()
        load = Load(port, phase)
        seconds = load.run()
        after = self.prefix_counters()
        failed = [outcome for outcome in load.outcomes if not outcome.completed]
        self.assertEqual(failed, [], [(outcome.status, outcome.error) for outcome in failed])
        self.assertEqual(len(load.outcomes), load.total)
        server_rate = (after[0] - before[0]) / (after[1] - before[1])
        # The replicas count exactly what the clients were told.
        self.assertAlmostEqual(server_rate, load.hit_rate(), places=6)
        return load, seconds, server_rate

    def test_1_signals_for_balancers(self):
        replica = self.replicas[0]
        status, health = replica.health()
        self.assertEqual((status, health["status"], health["ready"], health["replica"]), (200, "ok", True, replica.name))
        status, _, live = http_request(replica.port, "GET", "/health/live")
        self.assertEqual((status, json.loads(live)["live"]), (200, True))
        text = replica.metrics()
        for name in ("vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
                     "vllm:prefix_cache_hits_total", "hearth_kv_cache_usage_ratio", "hearth_prefix_cache_hit_ratio"):
            self.assertIn(f'{{model_name="{MODEL}"}}' if name.startswith("vllm:") else f'{{model="{MODEL}"}}',
                          "".join(f"{labels}" for labels in metric_values(text, name)), name)
        self.assertIn("block_size=\"32\"", text)
        # Through nginx: the replica that answered names itself, and the key comes back.
        messages = [{"role": "user", "content": "Say hi."}]
        outcome = stream_chat(self.nginx.affinity_port, messages, affinity_key(messages))
        self.assertTrue(outcome.completed, outcome.error)
        self.assertIn(outcome.replica, [replica.name for replica in self.replicas])
        self.assertEqual(outcome.affinity, affinity_key(messages))
        # Without the header, Hearth computes the same key by the same rule.
        status, headers, _ = http_request(replica.port, "POST", "/v1/chat/completions",
                                          {"model": MODEL, "messages": messages, "max_tokens": 1})
        self.assertEqual((status, headers.get("X-Hearth-Affinity")), (200, affinity_key(messages)))

    def test_2_affinity_against_round_robin_and_failover(self):
        affinity, affinity_seconds, affinity_server = self.measured_phase(self.nginx.affinity_port, "a")
        # Each conversation stayed on one replica, and the replicas share the conversations.
        by_conversation = {}
        for outcome in affinity.outcomes:
            by_conversation.setdefault(outcome.conversation, set()).add(outcome.replica)
            self.assertEqual(outcome.affinity, affinity_key(affinity.conversations[outcome.conversation]))
        self.assertTrue(all(len(replicas) == 1 for replicas in by_conversation.values()), by_conversation)
        round_robin, round_robin_seconds, round_robin_server = self.measured_phase(self.nginx.round_robin_port, "b")
        self.assertGreater(affinity.hit_rate(), round_robin.hit_rate() + 0.15,
                           f"affinity {affinity.hit_rate():.3f} vs round-robin {round_robin.hit_rate():.3f}")

        # C: the same load with affinity, one replica killed and one drained mid-run.
        events = {}

        def busiest(exclude=()):
            """The replica with the most requests in flight (waiting up to 30 s for one)."""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                loads = []
                for replica in self.replicas:
                    if replica in exclude:
                        continue
                    try:
                        _, health = replica.health()
                        loads.append((health["running"] + health["waiting"], replica))
                    except OSError:
                        pass
                loads.sort(key=lambda pair: -pair[0])
                if loads and loads[0][0] > 0:
                    return loads[0][1]
                time.sleep(0.05)
            raise AssertionError("no replica had a request in flight")

        def faults(load):
            load.wait_until_done(load.total // 4)
            victim = busiest()
            events["killed"] = victim.name
            events["killed_in_flight"] = victim.health()[1]["running"]
            victim.kill()
            lines_before = len(self.nginx.access_lines())
            # Restarted once nginx has had to send a request elsewhere (or after 5 s).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(", " in line for line in self.nginx.access_lines()[lines_before:]):
                time.sleep(0.05)
            restarted = time.monotonic()
            victim.start_again()
            victim.wait_ready()
            events["kill_restart_seconds"] = time.monotonic() - restarted

            load.wait_until_done(load.total // 2)
            drained = busiest(exclude=(victim,))
            events["drained"] = drained.name
            events["drained_in_flight"] = drained.health()[1]["running"]
            signalled = time.monotonic()
            drained.process.send_signal(signal.SIGTERM)
            # /health turns 503 as soon as the signal is handled, DRAIN_DELAY seconds before
            # the listener closes.
            while True:
                status, health = drained.health()
                if status == 503 or time.monotonic() - signalled > DRAIN_DELAY / 2:
                    break
                time.sleep(0.02)
            events["health_while_draining"] = (status, health["status"])
            events["live_while_draining"] = http_request(drained.port, "GET", "/health/live")[0]
            events["drain_exit_code"] = drained.process.wait(timeout=120)
            events["drain_seconds"] = time.monotonic() - signalled
            drained.start_again()
            drained.wait_ready()

        failover = Load(self.nginx.affinity_port, "c")
        lines_before = len(self.nginx.access_lines())
        failover_seconds = failover.run(during=faults)
        log = self.nginx.access_lines()[lines_before:]
        retried = [line for line in log if ", " in line.split('"')[1]]

        not_started = [outcome for outcome in failover.outcomes if not outcome.started]
        cut = [outcome for outcome in failover.outcomes if outcome.started and not outcome.completed]
        drained_cut = [outcome for outcome in cut if outcome.replica == events["drained"]]
        # Affinity comes back: after the restarts (and nginx's fail_timeout), each conversation
        # of phase A lands on the replica that held it then.
        time.sleep(5.5)
        home = {outcome.conversation: outcome.replica for outcome in affinity.outcomes}
        returned = {}
        for number, messages in enumerate(affinity.conversations):
            outcome = stream_chat(self.nginx.affinity_port, messages, affinity_key(messages))
            self.assertTrue(outcome.completed, outcome.error)
            returned[number] = outcome.replica

        report = {
            "affinity": {"requests": len(affinity.outcomes), "seconds": affinity_seconds,
                         "hit_rate_clients": affinity.hit_rate(), "hit_rate_metrics": affinity_server},
            "round_robin": {"requests": len(round_robin.outcomes), "seconds": round_robin_seconds,
                            "hit_rate_clients": round_robin.hit_rate(), "hit_rate_metrics": round_robin_server},
            "failover": {"requests": len(failover.outcomes), "seconds": failover_seconds,
                         "completed": sum(outcome.completed for outcome in failover.outcomes),
                         "failed_before_streaming": len(not_started), "cut_mid_stream": len(cut),
                         "retried_by_nginx": len(retried), "hit_rate_clients": failover.hit_rate(), **events},
        }
        print("\nreplicas behind nginx (3 replicas, %s, %d conversations x %d turns, %d clients, max_tokens %d):"
              % (MODEL, CONVERSATIONS, TURNS, WORKERS, MAX_TOKENS))
        print(json.dumps(report, indent=2, default=str))
        print("prefix-cache hit rate: affinity %.3f vs round-robin %.3f; failover: %d requests, %d failed before streaming, "
              "%d cut mid-stream, %d retried by nginx" % (affinity.hit_rate(), round_robin.hit_rate(), len(failover.outcomes),
                                                          len(not_started), len(cut), len(retried)))

        self.assertEqual(not_started, [], [(outcome.status, outcome.error) for outcome in not_started])
        self.assertEqual(drained_cut, [], "a stream of the drained replica was cut off")
        self.assertEqual(events["health_while_draining"], (503, "draining"))
        self.assertEqual(events["live_while_draining"], 200)
        self.assertEqual(events["drain_exit_code"], 0)
        self.assertGreaterEqual(len(retried), 1, "the kill sent no request elsewhere")
        self.assertEqual(returned, home, "conversations did not return to their replica after the restarts")


class ReplicaFlagTests(unittest.TestCase):
    def test_bad_replica_flags_are_named(self):
        for arguments, named in ((["--replica-name", "two words"], "--replica-name"), (["--replica-name", ""], "--replica-name"),
                                 (["--drain-delay", "3601"], "--drain-delay"), (["--drain-delay", "soon"], "--drain-delay")):
            with self.subTest(arguments=arguments):
                result = subprocess.run([str(hearth_bin()), "serve", "--port", "0", *arguments], capture_output=True, text=True,
                                        timeout=60, env=dict(os.environ, HEARTH_HOME=tempfile.gettempdir()))
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(named, result.stderr)
