"""The ``hookgate`` command: runs the ingress and the worker, and the local tooling around them.

This package composes the two processes; ``ingress`` and ``streams`` never import it (or each
other).
"""
