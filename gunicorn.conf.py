"""gunicorn settings for the gateway: `gunicorn wsgi:app` picks this file up by itself."""

import multiprocessing
import os

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
accesslog = "-"
