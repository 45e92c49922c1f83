"""Tests of ingress/providers/: the Standard Webhooks family's adapters, the catalogue."""
