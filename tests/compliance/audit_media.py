"""Constants shared by the audit tests and their fixtures."""
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c2pa-external"
ASSET_ID = "tsr-audit-0001"
