"""Test-wide isolation: every test session gets its own Tessera home and Prefect home."""
import os
import tempfile

import pytest

# Set before Prefect is imported anywhere: no analytics, no writes to ~/.prefect.
_session_home = tempfile.mkdtemp(prefix="tessera-test-home-")
os.environ["TESSERA_HOME"] = _session_home
os.environ.setdefault("PREFECT_HOME", os.path.join(_session_home, "prefect"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the session, started by the first test that needs one (the flow tests,
    and the workspace tests that render)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield
