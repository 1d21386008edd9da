"""sme-ladder: an agent-based model of China's SME gradient-cultivation ladder."""


def __getattr__(name: str) -> str:
    """``__version__`` on first use: reading the installed metadata costs a tenth of ``ladder --help``."""
    if name != "__version__":
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("sme-ladder")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
