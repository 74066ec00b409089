"""Catalogs: typed product, locale, copy and brand records, loaded and validated from a folder."""
from catalogs.load import CatalogError, load_catalog
from catalogs.schema import ASPECT_RATIOS, BrandKit, Catalog, Copy, Locale, Product

__all__ = ["ASPECT_RATIOS", "BrandKit", "Catalog", "CatalogError", "Copy", "Locale", "Product", "load_catalog"]
