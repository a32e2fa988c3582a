"""axe-core (from npm, `tests/interop`) run inside Chromium on the page in front of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_SCRIPT = Path(__file__).parents[1] / "interop" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe rule (WCAG 2.x A/AA and best practices) the page breaks. The browser context
    must be opened with `bypass_csp=True`: the pages' CSP rightly refuses injected scripts."""
    if not AXE_SCRIPT.exists():
        pytest.skip("axe-core is not installed (cd tests/interop && npm ci)")
    page.add_script_tag(path=str(AXE_SCRIPT))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return list(result["violations"])


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    summary = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["html"][:160] for n in v["nodes"][:3]],
        }
        for v in violations
    ]
    assert summary == [], f"axe-core on {page.url}:\n{json.dumps(summary, indent=1)}"
