"""The Celery test runs on PostgreSQL only (the Dagster instance every worker shares, and the
project's store): with `REVOPS_TEST_ENGINES=sqlite` it is not collected, as the other PostgreSQL
tests are not."""

from tests.conftest import ENGINES

collect_ignore = [] if "postgresql" in ENGINES else ["test_celery_workers.py"]
