"""Benchmarks that print ratios against reference implementations (`python -m ftdemo bench ...`)."""
