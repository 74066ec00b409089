import pytest

from flow_catalogs import small_catalog  # noqa: F401  (shared helper, re-exported for tests)


@pytest.fixture(scope="session", autouse=True)
def _flows_run_on_the_test_server(prefect_harness):
    """Every flow test runs against the session's Prefect test server (tests/conftest.py)."""
    yield
