"""sme-ladder: an agent-based model of China's SME gradient-cultivation ladder."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sme-ladder")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
