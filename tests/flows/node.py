"""Node.js for the interoperability tests: the npm packages live in tests/interop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

INTEROP = Path(__file__).parent.parent / "interop"


def node_with(package: str) -> str:
    """The node binary, or a skip when node or the npm package is missing."""
    binary = shutil.which("node")
    if binary is None or not (INTEROP / "node_modules" / package).is_dir():
        pytest.skip("needs node and `npm ci` in tests/interop (.ci/run does both)")
    return binary
