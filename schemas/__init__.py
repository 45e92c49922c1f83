"""Contracts between the parts of Hookgate and its users.

- :mod:`schemas.raw`: the raw-delivery record (ingress writes, worker reads).
- :mod:`schemas.canonical`: the canonical CloudEvent (worker writes, downstream teams read).
- :mod:`schemas.published`: the published JSON Schemas in ``json/``, by identifier; how they may
  change is ``README.md``, checked by :mod:`schemas.compat`.
- :mod:`schemas.config`: the configuration file both processes read (typed models;
  ``json/config.v1.schema.json`` is generated from them), and :mod:`schemas.kafka_clients`: every
  Kafka client's settings built from it.

``ingress`` and ``streams`` never import each other; they meet here, as they meet in Kafka.
"""
