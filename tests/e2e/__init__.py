"""End-to-end tests: the stack's processes on the real broker, judged from outside."""
