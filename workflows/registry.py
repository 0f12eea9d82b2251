"""Every workflow the worker registers. Add yours to WORKFLOWS."""

from __future__ import annotations

WORKFLOWS: list[type] = []
