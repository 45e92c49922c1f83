"""Tests of the hookgate package (hookgate/): the CLI, the local broker, the dev tooling."""
