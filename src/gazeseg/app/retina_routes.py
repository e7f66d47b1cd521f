"""Retina mode in the app: the reading's own fixations -> lesion candidates -> confirm / reject.

The clinician reads the image normally (gaze is recorded as always); "find lesions" runs the
retina pipeline on the fixations recorded for that image; each candidate is then confirmed (y) or
rejected (x) by looking at it and pressing the key. Both decisions are stored with the candidate's
measured features, which is what ``gazeseg.learn.lesion_learner`` learns from.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
from fastapi import APIRouter, Request

from gazeseg.core.errors import InputError
from gazeseg.core.types import Fixation


def build_router(session) -> APIRouter:  # noqa: ANN001
    router = APIRouter()
    state: dict[int, list] = {}

    def run(item_id: int, max_candidates: int) -> list[dict]:
        from gazeseg.core.geometry import ViewingGeometry, Viewport
        from gazeseg.retina.pipeline import RetinaPipeline

        rows = session.store.fixations(item_id)
        if len(rows) < 3:
            raise InputError("retina: no reading recorded for this image yet; read it (look around it) first, then ask for lesions")
        image = session.catalog.rgb(item_id, 0)
        fixations = [Fixation(r.start_s, r.end_s, r.x, r.y, "image_px") for r in rows]
        geometry = ViewingGeometry()
        ppd = Viewport.fit(image.shape[1], image.shape[0], geometry).image_px_per_deg(geometry)
        result = RetinaPipeline(session.engine, mode="saliency+filter", max_candidates=max_candidates).run(image, fixations, px_per_deg=ppd)
        kept = [c for c in result.candidates if c.kept]
        state[item_id] = kept
        return [{"i": i, "x": c.x, "y": c.y, "r": float(np.sqrt(c.mask.sum() / np.pi)) + 4, "score": c.score} for i, c in enumerate(kept)]

    @router.post("/api/retina/run")
    async def retina_run(request: Request) -> dict:
        body = await request.json()
        item_id = int(body["item"])
        max_candidates = int(np.clip(int(body.get("max_candidates", 80)), 1, 500))
        candidates = await asyncio.to_thread(run, item_id, max_candidates)
        session.store.log("retina_run", item_id, 0, candidates=len(candidates))
        return {"candidates": candidates}

    @router.post("/api/retina/decide")
    async def retina_decide(request: Request) -> dict:
        body = await request.json()
        item_id, index, confirm = int(body["item"]), int(body["i"]), bool(body["confirm"])
        candidates = state.get(item_id) or []
        if not 0 <= index < len(candidates):
            raise InputError(f"retina: no candidate {index}; ask for lesions again")
        c = candidates[index]
        features = {k: float(v) for k, v in c.features.items()}
        mask_id = None
        if confirm:
            item = session.store.item(item_id)
            full = np.zeros((item.height, item.width), bool)
            y0, x0, y1, x1 = c.box
            full[y0:y1, x0:x1] = c.mask
            labels = {l.name: l.id for l in session.store.labels()}
            label = labels.get("lesion") or session.store.add_label("lesion", "#ff4136")
            mask_id = session.store.accept_mask(item_id, 0, label, full, prompts={"points": [[c.x, c.y]], "labels": [1]}, score=c.score, source="retina")
        session.store.log("retina_confirm" if confirm else "retina_reject", item_id, 0, x=c.x, y=c.y, features=json.dumps(features))
        return {"mask": mask_id}

    return router
