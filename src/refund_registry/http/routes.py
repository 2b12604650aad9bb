"""All API route handlers, collected for the app factory."""

from __future__ import annotations

from typing import Any

from refund_registry.http import admin

ROUTES: list[Any] = [*admin.ROUTES]
