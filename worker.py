"""The push job consumer's entry point: `huey_consumer worker.huey` (scripts/serve and the Procfile's
`worker` run it). The same settings as the web app (GATEWAY_* variables): with GATEWAY_CACHE_URL=redis://…
every host's consumer takes jobs from one queue; otherwise the queue is push-jobs.sqlite beside
GATEWAY_PUSH_PATH, shared with the web workers of this host."""

from gateway import create_app
from gateway.push import get
from gateway.push.jobs import consumer_logging

app = create_app()
huey = get(app).huey
consumer_logging()  # deliveries are logged; the every-minute tick and sweep only what they do
