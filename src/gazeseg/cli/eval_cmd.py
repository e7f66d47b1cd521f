"""``gazeseg eval DATASET_DIR``: gaze strategies vs mouse clicks on any folder of images with masks."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate gaze prompt strategies against mouse clicks on a dataset",
        description=(
            "Simulated users segment every object of DATASET_DIR by gaze (per strategy and tracker "
            "preset) and by mouse clicks; writes report.md, report.json and plots. Times are modelled."
        ),
    )
    parser.add_argument("dataset_dir", type=Path, metavar="DATASET_DIR", help="images + masks (images/+masks/, GrabCut or DAVIS layout)")
    parser.add_argument("--engine", default="classic", help="engine name (default: classic)")
    parser.add_argument("--strategy", action="append", dest="strategies", metavar="NAME",
                        help="prompt strategy, repeatable (default: gazesam-point and fixation)")
    parser.add_argument("--preset", action="append", dest="presets", metavar="NAME",
                        help="simulated tracker, repeatable (default: tobii-pro-nano and webcam)")
    parser.add_argument("--clicks", action=argparse.BooleanOptionalAction, default=True, help="also run the mouse-click protocol (default: on)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N objects")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-looks", type=int, default=5, metavar="K", help="most looks/clicks per object (default: 5)")
    parser.add_argument("--stop-iou", type=float, default=0.9, help="the simulated user stops at this IoU (default: 0.9)")
    parser.add_argument("--dwell", type=float, default=0.3, dest="dwell_s", metavar="S", help="dwell per look in seconds (default: 0.3)")
    parser.add_argument("--recalibrate", action="store_true",
                        help="one sitting: a fixed tracker offset for every object, and each gaze strategy also as "
                             "<strategy>+recal, learning that offset from the masks accepted so far")
    parser.add_argument("--examples", type=int, default=2, metavar="N", help="best and worst N objects drawn as overlays (0: none)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: results/eval_<dataset name>)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gazeseg.core.errors import InputError
    from gazeseg.eval.report import summaries, write_report
    from gazeseg.eval.runner import EvalConfig, collect_examples, make_strategy, run_evaluation

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit: expected a positive number of objects, got {args.limit}; leave it out to run all")
    if args.max_looks < 1:
        raise InputError(f"--max-looks: expected at least 1, got {args.max_looks}")
    if not 0.0 < args.stop_iou <= 1.0:
        raise InputError(f"--stop-iou: expected a value in (0, 1], got {args.stop_iou}")
    config = EvalConfig(
        dataset_dir=args.dataset_dir, engine=args.engine,
        strategies=tuple(args.strategies or ("gazesam-point", "fixation")),
        presets=tuple(args.presets or ("tobii-pro-nano", "webcam")),
        clicks=args.clicks, limit=args.limit, seed=args.seed, max_looks=args.max_looks,
        stop_iou=args.stop_iou, dwell_s=args.dwell_s, recalibrate=args.recalibrate,
    )
    for strategy in config.strategies:  # fail on a typo before any work
        for preset in config.presets:
            make_strategy(strategy, preset)
    result = run_evaluation(config)
    # overlays replay single objects, which a sitting's learnt correction does not carry to
    examples = collect_examples(config, result, per_side=args.examples) if args.examples > 0 and not config.recalibrate else None
    out = args.out or Path("results") / f"eval_{result.dataset_name}"
    path = write_report(result, out, examples=examples)
    for method, s in summaries(result).items():
        print(f"{method:32s} mIoU@1 {100 * s['miou@1']:5.1f}  at stop {100 * s['miou@stop']:5.1f}  "
              f"NoI@90 {s['noi@90']:4.2f}  time/object {s['time_per_object_s']:5.2f} s (modelled)")
    print(f"report: {path}")
    return 0
