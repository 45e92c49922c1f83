"""Signature schemes: one module per family of how senders sign (see PROVIDERS.md in the docs)."""
