"""Error types. Messages follow "what: expected ..., got ...; how to fix"."""


class GazesegError(Exception):
    """Base class for errors gazeseg raises on purpose."""


class InputError(GazesegError, ValueError):
    """Bad user input (file, argument, sample). The message says how to fix it."""


class MissingDependencyError(GazesegError, ImportError):
    """An optional extra is needed; the message names the pip command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed; "
            f"install it with: pip install 'gazeseg[{extra}]'"
        )
        self.package = package
        self.extra = extra
