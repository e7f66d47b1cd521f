"""``gazeseg models list | download NAME | verify [NAME] | export-onnx NAME|--checkpoint PATH``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list, download, verify and export SAM / SAM 2 checkpoints")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="official checkpoints and whether they are on disk").set_defaults(func=run_list)
    d = sub.add_parser("download", help="download an official checkpoint (needs internet)")
    d.add_argument("name")
    d.set_defaults(func=run_download)
    v = sub.add_parser("verify", help="check files on disk against the published SHA-256")
    v.add_argument("name", nargs="?")
    v.add_argument("--checkpoint", type=Path, default=None, help="a file placed by hand")
    v.set_defaults(func=run_verify)
    e = sub.add_parser("export-onnx", help="export the SAM / SAM 2 prompt decoder to ONNX (used automatically when present)")
    e.add_argument("name", nargs="?")
    e.add_argument("--checkpoint", type=Path, default=None)
    e.add_argument("--out", type=Path, default=None, help="default: next to the checkpoint, *.decoder.onnx")
    e.add_argument("--graph", choices=["fast", "official"], default="fast",
                   help="fast: re-associated low-res decoder (default); official: segment-anything's SamOnnxModel")
    e.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True,
                   help="also write the int8 copy of the fast graph (*.decoder.int8.onnx) that live previews use; accepted masks stay exact")
    e.set_defaults(func=run_export)


def run_list(_args: argparse.Namespace) -> int:
    from gazeseg.engines.weights import CHECKPOINTS, local_path, weights_dir

    print(f"weights folder: {weights_dir()}  (override with GAZESEG_WEIGHTS_DIR)")
    for name, c in CHECKPOINTS.items():
        path = local_path(name)
        state = "present" if path.is_file() else "missing"
        print(f"  {name:24s} {c.engine:5s} {state:8s} {c.url or c.note}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from gazeseg.engines.weights import download

    path = download(args.name)
    print(f"{args.name}: {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from gazeseg.core.errors import InputError
    from gazeseg.engines.weights import CHECKPOINTS, find_by_file, get_checkpoint, local_path, verify

    if args.checkpoint is not None:
        checkpoint = find_by_file(args.checkpoint)
        if checkpoint is None:
            from gazeseg.engines.weights import sha256_of

            print(f"{args.checkpoint}: not an official file name; SHA-256 {sha256_of(args.checkpoint)}")
            return 0
        targets = [(checkpoint, args.checkpoint)]
    elif args.name:
        targets = [(get_checkpoint(args.name), local_path(args.name))]
    else:
        targets = [(c, local_path(n)) for n, c in CHECKPOINTS.items() if local_path(n).is_file()]
        if not targets:
            print("no checkpoints on disk; `gazeseg models download sam-vit-b` on a machine that is online")
            return 0
    bad = 0
    for checkpoint, path in targets:
        ok, detail = verify(path, checkpoint)
        if ok is None:
            print(f"{checkpoint.name}: {path}: SHA-256 {detail} (no published hash to compare with)")
        elif ok:
            print(f"{checkpoint.name}: {path}: OK")
        else:
            bad += 1
            print(f"{checkpoint.name}: {path}: MISMATCH ({detail}); delete it and download again")
    if bad:
        raise InputError(f"{bad} checkpoint(s) failed verification")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from gazeseg.core.errors import InputError
    from gazeseg.engines.weights import get_checkpoint, local_path

    if args.checkpoint is None and not args.name:
        raise InputError("export-onnx: give a model NAME or --checkpoint PATH")
    path = args.checkpoint or local_path(args.name)
    family = get_checkpoint(args.name).engine if args.name else checkpoint_family(path)
    out = args.out or path.with_suffix(".decoder.onnx")
    if family == "sam2":
        from gazeseg.engines.sam2 import load_sam2
        from gazeseg.engines.sam2_fast_decoder import export_sam2_decoder

        if args.graph != "fast":
            raise InputError("export-onnx: SAM 2 has only the fast graph (segment-anything's SamOnnxModel is SAM 1's)")
        export_sam2_decoder(load_sam2(path), out, int8=args.int8)
    else:
        from gazeseg.engines.onnx_decoder import export_sam_decoder
        from gazeseg.engines.sam import load_sam

        export_sam_decoder(load_sam(path), out, graph=args.graph, int8=args.int8)
    print(f"exported the {family} prompt decoder ({args.graph} graph) to {out}")
    if args.int8 and args.graph == "fast":
        from gazeseg.engines.onnx_int8 import int8_path_for

        int8 = int8_path_for(out)
        print(f"int8 preview decoder: {int8}" if int8.is_file() else "int8 preview decoder: none (no product large enough to gain)")
    return 0


def checkpoint_family(path: Path) -> str:
    """'sam2' when the file holds a Hiera trunk, else 'sam' (whose loader explains a wrong file)."""
    from gazeseg.engines.torch_load import load_state_dict

    state = load_state_dict(path, what="export-onnx")
    return "sam2" if any(k.startswith("image_encoder.trunk.") for k in state) else "sam"
