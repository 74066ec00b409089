"""Small real catalogs cut from the sample, for flow tests."""
import shutil
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "catalogs" / "sample"


def small_catalog(dest: Path, locales=("de-DE", "zh-CN", "ar-SA"), aspects="9:16;1:1;16:9", products: int = 1, duration_s: str = "2") -> Path:
    """A copy of the sample catalog cut to a few products and locales, with 2-second clips."""
    shutil.copytree(SAMPLE, dest)
    products = pd.read_csv(dest / "products.csv", dtype=str, keep_default_na=False).head(products)
    products["duration_s"] = duration_s
    products.to_csv(dest / "products.csv", index=False)
    loc = pd.read_csv(dest / "locales.csv", dtype=str, keep_default_na=False)
    loc = loc[loc["tag"].isin(locales)].copy()
    loc["aspect_ratios"] = aspects
    loc.to_csv(dest / "locales.csv", index=False)
    copy = pd.read_csv(dest / "copy.csv", dtype=str, keep_default_na=False)
    copy = copy[copy["sku"].isin(products["sku"]) & copy["locale"].isin(locales)]
    copy.to_csv(dest / "copy.csv", index=False)
    return dest
