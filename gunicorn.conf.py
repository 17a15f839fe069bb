"""gunicorn settings for the gateway: `gunicorn wsgi:app` picks this file up by itself.

The serving model is gunicorn's gevent worker: each worker process runs an
event loop, and every open connection costs a greenlet (a few KB), not a
thread. A client that sends its headers one byte at a time, or a live stream
(SSE) that stays open for hours, then holds a greenlet, never a worker:
thousands fit in one process, and other clients are answered as usual.
Blocking C work (SQLite queries, Pillow decodes) must not run on the event
loop; it goes to gevent's threadpool (real OS threads).
"""

import multiprocessing
import os
import resource
import shutil
import sys
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
# The work of a request is CPU (rendering, compression) or waiting (upstream, Redis,
# slow clients): one event-loop process per core serves the CPU part, greenlets the waits.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
# Connections one worker holds at once (each a greenlet); beyond this the worker stops
# accepting until one closes, and the others accept instead.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2000))
# Longer than GATEWAY_UPSTREAM_TIMEOUT, so the app answers 503 itself before gunicorn kills the worker.
timeout = int(os.environ.get("GATEWAY_UPSTREAM_TIMEOUT", 10)) + 20
graceful_timeout = 20
# Seconds an idle keep-alive connection is kept open, and, with the gevent worker, also the
# header-read deadline: the worker reads each request's line and headers under one
# gevent.Timeout(keepalive), so a client that drips its headers (one byte every few seconds)
# is disconnected after this long in total, not kept for ever. Never 0: that disables the deadline.
keepalive = max(1, int(os.environ.get("GUNICORN_KEEPALIVE", 5)))
# gunicorn clamps request lines to 8190 bytes unless the limit is 0 (then 1 MB):
# with 0, a long query reaches the app, which answers 414 + X-FlickrErrCode 116
# itself (SPEC 5) instead of gunicorn's bare 400.
limit_request_line = 0
limit_request_field_size = 16384
# The gateway writes its own access log, one JSON object a line on stderr
# (gateway/access.py): gunicorn's would print the whole query string, a
# client's api_key included.
accesslog = None
# No proxy is trusted unless the operator says so: the app's GATEWAY_PROXY_HOPS (0 by
# default) decides which X-Forwarded-* it believes. gunicorn's own defaults would let
# any client on 127.0.0.1 pick the scheme (X-Forwarded-Proto: https) and SCRIPT_NAME.
forwarded_allow_ips = ""
secure_scheme_headers = {}
# gunicorn's control socket (gunicornc) lives at one path per user ($HOME/.gunicorn/gunicorn.ctl):
# two gateways on one machine (tests, benchmarks, staging beside production) would take it from
# each other. Nothing here uses it.
control_socket_disable = True

# /metrics adds up every worker's numbers: prometheus_client's multiprocess
# mode keeps each worker's values in files in this directory, which must be
# empty when gunicorn starts. Unless the operator names one, a fresh one is
# made here (before any worker imports prometheus_client) and removed on exit.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")


def on_starting(server):
    # Every connection is a file descriptor: let a worker hold worker_connections of them
    # (plus its files) when the hard limit allows it; Debian's soft limit is 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = worker_connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, new), hard))

    # gunicorn's own error log quotes a request line it cannot parse whole ("Invalid HTTP request
    # line: 'GET /services/rest/?…&api_key=…\x01'"): the filter takes the caller's credentials out.
    import logging

    from gateway.accesslog import CredentialFilter

    logging.getLogger("gunicorn.error").addFilter(CredentialFilter())


def post_fork(server, worker):
    # Without Redis each worker keeps its own share of the Flickr budget
    # (gateway/limits.py): tell it how many workers share this host's.
    os.environ["WEB_CONCURRENCY"] = str(server.num_workers)


def worker_exit(server, worker):
    # The request metrics are added up in each worker and written once a second
    # (gateway/metrics.py): the last second's are written before the worker goes.
    metrics = sys.modules.get("gateway.metrics")
    if metrics is not None:
        metrics.BATCH.flush()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def when_ready(server):
    # Say where the gateway answers (scripts/serve's one-command start): the addresses
    # gunicorn really bound (port 0 picks a free one), and the URL to open on this machine.
    for listener in server.LISTENERS:
        address = listener.sock.getsockname()
        if isinstance(address, str):
            server.log.info("flickr-gateway: serving on unix:%s", address)
        elif address[0] in ("0.0.0.0", "::"):
            server.log.info("flickr-gateway: serving on every address of this machine, port %s: "
                            "open http://localhost:%s/ (from elsewhere: this machine's name or address)",
                            address[1], address[1])
        else:
            host = f"[{address[0]}]" if ":" in address[0] else address[0]
            server.log.info("flickr-gateway: serving on %s, port %s: open http://%s:%s/", host, address[1], host,
                            address[1])
