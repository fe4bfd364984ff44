"""Simulated help point units: fleets of real agents with simulated hardware, for the demo,
tests and benchmarks (``helppoint simulate``)."""
