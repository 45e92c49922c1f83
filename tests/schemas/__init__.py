"""Tests of the schemas package (schemas/): contracts, configuration, Kafka settings, bridge."""
