"""Tests of the streams package (streams/): the worker's parts, stand-ins or the real broker."""
