"""Native dataset layouts -> .beton splits.

Each adapter reads one release layout and returns ``{"<dataset>/<split>": Split}``; the images are
decoded only when :func:`bt_core.data.adapters.common.write_split` writes them. Which adapter reads
which folder, and where the .beton files go, is :mod:`bt_core.data.catalog`'s business.
"""
from .common import JPEG_MAX_SIDE, ImageFiles, Split, write_split

__all__ = ["JPEG_MAX_SIDE", "ImageFiles", "Split", "write_split"]
