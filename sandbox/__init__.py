"""Faithful local simulators of every external API (real HTTP servers) for the demo, tests and benchmarks."""
