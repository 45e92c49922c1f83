"""Tests of bench/: the benchmarks' smoke runs, so they never rot."""
