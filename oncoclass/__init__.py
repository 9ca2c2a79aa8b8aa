"""OncoClass: classify cancer genetic variants from clinical evidence."""

__version__ = "0.1.0"
