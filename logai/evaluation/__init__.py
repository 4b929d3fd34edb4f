"""Evaluation: benchmark loaders and metrics shared by the benchmarks and `logai eval`."""
