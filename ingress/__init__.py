"""Hookgate's ingress: verifies webhook deliveries and writes them, unchanged, to Kafka.

Composition root: :func:`ingress.app.create_app`. Run it with ``hookgate ingress``.
"""
