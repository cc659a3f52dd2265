"""The daemon tests run on PostgreSQL only (dagster-postgres and the project's store): with
`REVOPS_TEST_ENGINES=sqlite` they are not collected, as the other PostgreSQL tests are not."""

from tests.conftest import ENGINES

collect_ignore = [] if "postgresql" in ENGINES else ["test_daemon_tick.py", "test_fast_path.py"]
