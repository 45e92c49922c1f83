"""Hookgate's stream worker: raw deliveries in, de-duplicated canonical CloudEvents out.

Composition root: :func:`streams.app.create_app`. Run it with ``hookgate worker``.
"""
