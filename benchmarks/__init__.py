"""Benchmarks of mentorflow against raw Temporal on the same machine."""
