"""What every client suite needs to run `hearth serve` as a subprocess: where the binary and the
test store are, free ports, and no server left behind. Standard library only, so the app suites'
virtualenvs (Tests/clients/apps) import it as well as the pinned-client suites here.
"""

import atexit
import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The clients (httpx, urllib) honour *_PROXY variables; loopback must never go through a proxy.
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]


def hearth_bin():
    path = Path(os.environ.get("HEARTH_BIN", ".build/release/hearth")).expanduser()
    return path if path.is_absolute() else REPO / path


def hearth_home():
    return Path(os.environ.get("HEARTH_TEST_HOME", "~/.cache/hearth-test")).expanduser()


RUNNING = []


@atexit.register
def kill_leftover_servers():
    """A run interrupted midway must not leave servers behind."""
    for process in RUNNING:
        if process.poll() is None:
            process.kill()
            process.wait()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def store_with(prefix, *models):
    """A temporary store (a folder the caller removes) holding `models` from the test store, hard-linked."""
    import tempfile
    home = Path(tempfile.mkdtemp(prefix=prefix))
    (home / "models").mkdir()
    for model in models:
        os.link(hearth_home() / "models" / f"{model}.gguf", home / "models" / f"{model}.gguf")
    return home
