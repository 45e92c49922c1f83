"""Tests of docs/: the examples the documentation shows, run as written."""
