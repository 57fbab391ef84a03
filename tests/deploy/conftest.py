"""The suite's server fixtures, shared with tests/test_server_process.py."""

# A module-scoped migrated SQLite file with the demo users and rooms.
from tests.test_server_process import template  # noqa: F401
