"""Deployment tests: the Helm chart, the container image and the compose file."""
