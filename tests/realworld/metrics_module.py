"""An application module that defines its metrics at import, as prometheus_client's docs show."""

from prometheus_client import Counter

REQUESTS = Counter("realworld_requests_total", "Requests handled", ["method"])
REQUESTS.labels(method="GET")  # a child created at import: its lock exists before any run
