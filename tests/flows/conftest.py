import pytest
from prefect.testing.utilities import prefect_test_harness

from flow_catalogs import small_catalog  # noqa: F401  (shared helper, re-exported for tests)



@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield
