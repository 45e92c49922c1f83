"""Tests of ingress/schemes/: one per signature scheme, senders played by their libraries."""
