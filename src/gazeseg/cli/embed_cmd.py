"""``gazeseg embed FOLDER_OR_IMAGE_OR_VOLUME``: precompute embeddings into the disk cache."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("embed", help="precompute image embeddings (folders, images, NIfTI/DICOM volumes)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--engine", default="auto")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--window", default=None, help="CT window preset for volumes (default: auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gazeseg.app.catalog import discover, is_volume_path
    from gazeseg.engines.cache import EmbeddingCache
    from gazeseg.engines.select import engine_from_args
    from gazeseg.io.images import load_image, to_rgb_uint8
    from gazeseg.io.volumes import load_volume

    engine = engine_from_args(args.engine, args.checkpoint)
    from gazeseg.engines.cache import default_cache_dir

    cache = EmbeddingCache(max_bytes=256 << 20, disk_dir=default_cache_dir())
    jobs = []
    for path in discover(list(args.paths)):
        if is_volume_path(path):
            volume = load_volume(path)
            jobs += [(f"{path.name}#{z}", lambda v=volume, z=z: v.slice_rgb(z, args.window)) for z in range(volume.depth)]
        else:
            jobs.append((path.name, lambda p=path: to_rgb_uint8(load_image(p))))
    hits = 0
    for _name, load in tqdm(jobs, desc=f"embedding ({engine.name})", unit="img"):
        image = load()
        before = cache.hits + cache.disk_hits
        cache.get_or_embed(engine, image)
        hits += int(cache.hits + cache.disk_hits > before)  # identical slices hit the memory cache
    print(f"{len(jobs)} images embedded with {engine.model_id} ({hits} were already cached)")
    return 0

