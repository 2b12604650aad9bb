"""Request counts and latencies per route: the series operators read, at one lookup a request.

The series are those Litestar's Prometheus middleware served under
``PrometheusConfig(app_name="refund_registry", group_path=True)``, with the
same names, help texts, label names and label values, so dashboards and
queries keep working:

- ``litestar_requests_total`` (counter),
- ``litestar_request_duration_seconds`` (histogram, ``prometheus_client``'s
  default buckets),
- ``litestar_requests_error_total`` (counter, answers with a status of 500 or more),

each labelled ``method``, ``path`` (the route's template, such as
``/v1/reports/{report_id}``, never the raw path), ``status_code`` and
``app_name`` (``refund_registry``). A request that matches no route (a 404 or
405 from routing itself) has no template and is not counted, as before, so
made-up paths add no series. The middleware's ``litestar_requests_in_progress``
gauge is not served: no alert, dashboard or document read it, and it cost two
label look-ups and two locked updates per request.

The middleware looked up every child series by its label values on each
request (``labels()`` four times, each a lock and a tuple build); here the
counter and histogram children are kept per (method, template, status), so a
request costs one dict lookup, one increment and one observation. The key
space is bounded: templates are the app's routes, statuses the app's own, and
methods outside the standard ones are counted as ``OTHER``.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

APP_NAME: Final = "refund_registry"
LABELS: Final = ("method", "path", "status_code", "app_name")
METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

REQUESTS: Final = Counter("litestar_requests_total", "Total requests", LABELS)
DURATION: Final = Histogram(
    "litestar_request_duration_seconds", "Request duration, in seconds", LABELS
)
ERRORS: Final = Counter("litestar_requests_error_total", "Total errors in requests", LABELS)

# The children of one (method, template, status): counter, histogram, and for a
# 5xx the error counter.
_Children = tuple[Counter, Histogram, Counter | None]
_children: dict[tuple[str, str, int], _Children] = {}


def _resolve(method: str, path: str, status: int) -> _Children:
    values = (method, path, str(status), APP_NAME)
    error = ERRORS.labels(*values) if status >= 500 else None
    pair = (REQUESTS.labels(*values), DURATION.labels(*values), error)
    _children[(method, path, status)] = pair
    return pair


def record(method: str, path: str, status: int, seconds: float) -> None:
    """Count one answered request of the route ``path`` (its template) and observe its time."""
    if method not in METHODS:
        method = "OTHER"
    children = _children.get((method, path, status)) or _resolve(method, path, status)
    children[0].inc()
    children[1].observe(seconds)
    if children[2] is not None:
        children[2].inc()
