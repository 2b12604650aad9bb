"""All API route handlers, collected for the app factory."""

from __future__ import annotations

from typing import Any

from refund_registry.config import Settings
from refund_registry.http import (
    admin,
    appeals,
    audit,
    audit_export,
    buyer,
    keyservice_proxy,
    listings,
    reports,
    risk,
    subject,
    tlog,
    webhooks,
)


def all_routes(settings: Settings) -> list[Any]:
    """Every route; the bulk routes are built for this app's bulk body limit."""
    return [
        *admin.ROUTES,
        *keyservice_proxy.ROUTES,
        *reports.routes(settings.max_bulk_body_bytes),
        *risk.routes(settings.max_bulk_body_bytes),
        *buyer.ROUTES,
        *subject.ROUTES,
        *appeals.ROUTES,
        *listings.ROUTES,
        *audit.ROUTES,
        *audit_export.ROUTES,
        *tlog.ROUTES,
        *webhooks.ROUTES,
    ]
