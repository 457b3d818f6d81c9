"""PlaceCode: venue codes (场所码) for a district."""

__version__ = "0.1.0"
