"""ProjectStore: the one object the app talks to for anything persistent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation
from gazeseg.io.export import rle_decode, rle_encode
from gazeseg.store.models import SCHEMA_VERSION, Base, Event, FixationRow, GazeChunk, Item, LabelClass, Mask, Setting

DEFAULT_LABELS = (("object", "#1e90ff"), ("lesion", "#ff4136"), ("organ", "#2ecc40"))


class ProjectStore:
    """A project in a SQLite file. Thread-safe (one lock); every write commits immediately."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False})

        @event.listens_for(self.engine, "connect")
        def _pragmas(conn, _record):  # noqa: ANN001, ANN202
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        try:
            Base.metadata.create_all(self.engine)
        except Exception as error:  # a file that is not SQLite
            raise InputError(f"project: {self.path} is not a gazeseg project database ({error}); pick another --project file") from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.RLock()
        with self._session() as s:
            if s.get(Setting, "schema") is None:
                s.add(Setting(key="schema", value=str(SCHEMA_VERSION)))
            if not s.scalars(select(LabelClass)).first():
                s.add_all(LabelClass(name=n, color=c) for n, c in DEFAULT_LABELS)

    def _session(self):  # noqa: ANN202
        store = self

        class _Ctx:
            def __enter__(self) -> Session:
                store._lock.acquire()
                self.s = store._sessions()
                return self.s

            def __exit__(self, exc_type, *exc) -> None:  # noqa: ANN001
                try:
                    if exc_type is None:
                        self.s.commit()
                    else:
                        self.s.rollback()
                finally:
                    self.s.close()
                    store._lock.release()

        return _Ctx()

    # -- items ---------------------------------------------------------------------------
    def add_item(self, name: str, path: str, kind: str, hw: tuple[int, int], depth: int = 1, error: str | None = None) -> int:
        with self._session() as s:
            existing = s.scalars(select(Item).where(Item.path == path)).first()
            if existing is not None:
                return existing.id
            position = len(s.scalars(select(Item.id)).all())
            item = Item(name=name, path=path, kind=kind, height=hw[0], width=hw[1], depth=depth, position=position, error=error)
            s.add(item)
            s.flush()
            return item.id

    def items(self) -> list[Item]:
        with self._session() as s:
            return list(s.scalars(select(Item).order_by(Item.position)))

    def item(self, item_id: int) -> Item:
        with self._session() as s:
            item = s.get(Item, item_id)
        if item is None:
            raise InputError(f"item: no image or volume with id {item_id} in this project")
        return item

    # -- labels --------------------------------------------------------------------------
    def labels(self) -> list[LabelClass]:
        with self._session() as s:
            return list(s.scalars(select(LabelClass).order_by(LabelClass.id)))

    def add_label(self, name: str, color: str) -> int:
        name = name.strip()
        if not name or len(name) > 128:
            raise InputError("label: expected a name of 1-128 characters")
        with self._session() as s:
            existing = s.scalars(select(LabelClass).where(LabelClass.name == name)).first()
            if existing:
                existing.color = color
                return existing.id
            label = LabelClass(name=name, color=color)
            s.add(label)
            s.flush()
            return label.id

    # -- masks, undo, redo ---------------------------------------------------------------
    def accept_mask(self, item_id: int, slice_index: int, label_id: int, mask: np.ndarray, *, prompts: dict | None = None, score: float = 1.0, source: str = "gaze") -> int:
        if not mask.any():
            raise InputError("accept: the mask is empty; look at the object until a mask appears")
        with self._session() as s:
            if s.get(LabelClass, label_id) is None:
                raise InputError(f"label: no label class with id {label_id}")
            row = Mask(item_id=item_id, slice_index=slice_index, label_id=label_id, rle=json.dumps(rle_encode(mask)),
                       prompts=json.dumps(prompts or {}), score=score, source=source)
            s.add(row)
            s.flush()
            s.add(Event(kind="accept", item_id=item_id, slice_index=slice_index, payload=json.dumps({"mask": row.id, "label": label_id})))
            self._set(s, "redo", "[]")
            return row.id

    def masks(self, item_id: int | None = None, slice_index: int | None = None, *, with_deleted: bool = False) -> list[Mask]:
        with self._session() as s:
            q = select(Mask).order_by(Mask.id)
            if item_id is not None:
                q = q.where(Mask.item_id == item_id)
            if slice_index is not None:
                q = q.where(Mask.slice_index == slice_index)
            if not with_deleted:
                q = q.where(Mask.deleted.is_(False))
            return list(s.scalars(q))

    @staticmethod
    def decode(mask: Mask) -> np.ndarray:
        return rle_decode(json.loads(mask.rle))

    def undo(self) -> Mask | None:
        """Hide the most recent accepted mask anywhere in the project (slices included)."""
        with self._session() as s:
            row = s.scalars(select(Mask).where(Mask.deleted.is_(False)).order_by(Mask.id.desc())).first()
            if row is None:
                return None
            row.deleted = True
            redo = json.loads(self._get(s, "redo", "[]"))
            redo.append(row.id)
            self._set(s, "redo", json.dumps(redo))
            s.add(Event(kind="undo", item_id=row.item_id, slice_index=row.slice_index, payload=json.dumps({"mask": row.id})))
            return row

    def redo(self) -> Mask | None:
        with self._session() as s:
            redo = json.loads(self._get(s, "redo", "[]"))
            while redo:
                row = s.get(Mask, redo.pop())
                if row is not None and row.deleted:
                    row.deleted = False
                    self._set(s, "redo", json.dumps(redo))
                    s.add(Event(kind="redo", item_id=row.item_id, slice_index=row.slice_index, payload=json.dumps({"mask": row.id})))
                    return row
            self._set(s, "redo", "[]")
            return None

    def delete_mask(self, mask_id: int) -> None:
        with self._session() as s:
            row = s.get(Mask, mask_id)
            if row is None:
                raise InputError(f"mask: no mask with id {mask_id}")
            row.deleted = True
            s.add(Event(kind="delete", item_id=row.item_id, slice_index=row.slice_index, payload=json.dumps({"mask": mask_id})))

    # -- gaze and events -----------------------------------------------------------------
    def add_gaze(self, item_id: int, slice_index: int, t: np.ndarray, xy: np.ndarray, valid: np.ndarray, source: str = "mouse") -> None:
        data = np.column_stack([np.asarray(t, float), np.asarray(xy, float).reshape(-1, 2), np.asarray(valid, float)])
        if not len(data):
            return
        with self._session() as s:
            s.add(GazeChunk(item_id=item_id, slice_index=slice_index, source=source, n=len(data), data=data.astype("<f8").tobytes()))

    def gaze(self, item_id: int | None = None) -> list[tuple[int, int, str, np.ndarray]]:
        """(item, slice, source, (N, 4) t/x/y/valid) per stored chunk, in arrival order."""
        with self._session() as s:
            q = select(GazeChunk).order_by(GazeChunk.id)
            if item_id is not None:
                q = q.where(GazeChunk.item_id == item_id)
            return [(c.item_id, c.slice_index, c.source, np.frombuffer(c.data, "<f8").reshape(c.n, 4)) for c in s.scalars(q)]

    def add_fixations(self, item_id: int, slice_index: int, fixations: Iterable[Fixation]) -> None:
        with self._session() as s:
            s.add_all(FixationRow(item_id=item_id, slice_index=slice_index, start_s=f.start_s, end_s=f.end_s, x=f.x, y=f.y) for f in fixations)

    def fixations(self, item_id: int | None = None) -> list[FixationRow]:
        with self._session() as s:
            q = select(FixationRow).order_by(FixationRow.id)
            if item_id is not None:
                q = q.where(FixationRow.item_id == item_id)
            return list(s.scalars(q))

    def log(self, kind: str, item_id: int | None = None, slice_index: int | None = None, **payload: object) -> None:
        with self._session() as s:
            s.add(Event(kind=kind, item_id=item_id, slice_index=slice_index, payload=json.dumps(payload, default=str), t=time.time()))

    def events(self, kind: str | None = None) -> list[Event]:
        with self._session() as s:
            q = select(Event).order_by(Event.id)
            if kind:
                q = q.where(Event.kind == kind)
            return list(s.scalars(q))

    # -- settings ------------------------------------------------------------------------
    @staticmethod
    def _get(s: Session, key: str, default: str) -> str:
        row = s.get(Setting, key)
        return row.value if row is not None else default

    @staticmethod
    def _set(s: Session, key: str, value: str) -> None:
        row = s.get(Setting, key)
        if row is None:
            s.add(Setting(key=key, value=value))
        else:
            row.value = value

    def get_setting(self, key: str, default: str = "") -> str:
        with self._session() as s:
            return self._get(s, key, default)

    def set_setting(self, key: str, value: str) -> None:
        with self._session() as s:
            self._set(s, key, value)
