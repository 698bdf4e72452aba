"""Tools beside the jobs: generators and helpers for development, tests and benchmarks."""
