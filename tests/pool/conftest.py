"""The node + pool `stack` fixture of `test_e2e`, for the other end-to-end modules of the pool."""

from tests.pool.test_e2e import stack  # noqa: F401 - a fixture, found by its name
