"""The job consumer (`huey_consumer worker.huey`, as scripts/serve runs it) keeps quiet when its
every-minute tasks find nothing to do, and still logs what they do: run as a real process on a
fresh instance folder, with one expired subscription for sweep to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_periodic_tasks_log_only_their_work(tmp_path):
    from gateway import create_app
    from gateway.push import get

    env = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp_path / "library.sqlite"), "GATEWAY_DEMO": "0",
           "GATEWAY_PUSH_PATH": str(tmp_path / "push.sqlite")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    app = create_app({"LIBRARY_PATH": env["GATEWAY_LIBRARY_PATH"], "PUSH_PATH": env["GATEWAY_PUSH_PATH"], "DEMO": 0})
    with app.app_context():
        get(app).subs.put({"id": "gone-sub", "canonical": "http://localhost/services/rest/?method=x",
                           "callback": "http://subscriber.example/cb", "watch": "w1", "format": "feed-atom_10",
                           "expires": 1})
    log = tmp_path / "consumer.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([str(BIN / "huey_consumer"), "worker.huey", "-w", "1", "-d", "0.05", "-m", "0.2"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            # The consumer enqueues its periodic tasks (tick, sweep) as it starts; sweep ends the lease.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with app.app_context():
                    if not get(app).subs.all():
                        break
                time.sleep(0.2)
            time.sleep(1)  # tick has its turn too
        finally:
            worker.send_signal(signal.SIGINT)
            worker.wait(timeout=30)
    text = log.read_text()
    with app.app_context():
        assert get(app).subs.all() == [], text  # sweep ran
    assert "Huey consumer started" in text
    assert '"event":"expiry"' in text.replace(" ", ""), text  # its work is logged
    # Huey names a task instance "gateway.push.jobs.tick: <id>" in its lines (the banner lists names only).
    routine = [line for line in text.splitlines() if re.search(r"Enqueueing periodic|jobs\.(tick|sweep): ", line)]
    assert routine == [], text
