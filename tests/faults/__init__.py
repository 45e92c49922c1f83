"""Fault harness: real processes on a real broker, faults injected, accepted reconciled with out.

``python -m tests.faults --help`` runs the soak; ``test_scenarios.py`` runs short versions in CI.
"""
