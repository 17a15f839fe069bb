"""gunicorn settings for the gateway: `gunicorn wsgi:app` picks this file up by itself."""

import multiprocessing
import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# Requests mostly wait on the upstream or the cache: a few processes with
# threads each serve many feed readers on a small machine.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
# Longer than GATEWAY_UPSTREAM_TIMEOUT, so the app answers 503 itself before gunicorn kills the worker.
timeout = int(os.environ.get("GATEWAY_UPSTREAM_TIMEOUT", 10)) + 20
graceful_timeout = 20
keepalive = 5
# gunicorn clamps request lines to 8190 bytes unless the limit is 0 (then 1 MB):
# with 0, a long query reaches the app, which answers 414 + X-FlickrErrCode 116
# itself (SPEC 5) instead of gunicorn's bare 400.
limit_request_line = 0
limit_request_field_size = 16384
# The gateway writes its own access log, one JSON object a line on stderr
# (gateway/access.py): gunicorn's would print the whole query string, a
# client's api_key included.
accesslog = None

# /metrics adds up every worker's numbers: prometheus_client's multiprocess
# mode keeps each worker's values in files in this directory, which must be
# empty when gunicorn starts. Unless the operator names one, a fresh one is
# made here (before any worker imports prometheus_client) and removed on exit.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")


def on_starting(server):
    # gunicorn's own error log quotes a request line it cannot parse whole ("Invalid HTTP request
    # line: 'GET /services/rest/?…&api_key=…\x01'"): the filter takes the caller's credentials out.
    import logging

    from gateway.access import CredentialFilter

    logging.getLogger("gunicorn.error").addFilter(CredentialFilter())


def post_fork(server, worker):
    # Without Redis each worker keeps its own share of the Flickr budget
    # (gateway/limits.py): tell it how many workers share this host's.
    os.environ["WEB_CONCURRENCY"] = str(server.num_workers)


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
