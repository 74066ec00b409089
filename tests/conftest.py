"""Test-wide isolation: every test session gets its own Tessera home and Prefect home."""
import os
import tempfile

# Set before Prefect is imported anywhere: no analytics, no writes to ~/.prefect.
_session_home = tempfile.mkdtemp(prefix="tessera-test-home-")
os.environ["TESSERA_HOME"] = _session_home
os.environ.setdefault("PREFECT_HOME", os.path.join(_session_home, "prefect"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["HF_HUB_OFFLINE"] = "1"
