"""The project store: everything an annotation session produces, in one SQLite file."""

from gazeseg.store.project import ProjectStore

__all__ = ["ProjectStore"]
