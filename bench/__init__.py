"""Benchmarks of socialdesk (not tests: nothing here asserts a timing). See bench/README.md."""
