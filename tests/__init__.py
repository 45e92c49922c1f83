"""Hookgate's tests, one folder per package they test (tests/ingress, tests/streams, ...).

The layout is in the README ("Development"); tests/test_layout.py holds the tree to it.
"""

from pathlib import Path

#: The repository's root, for tests that read its files (README, samples, docs, the chart).
REPO = Path(__file__).resolve().parent.parent
