"""Tests of streams/normalizers/: provider bodies to canonical events."""
