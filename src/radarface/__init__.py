"""radarface: 3D face reconstruction from near-field mmWave MIMO radar images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("radarface")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
