"""The ``jaxloss`` command line: argument parsing only; the work is in ``jaxloss.train``.

Every invalid argument gets a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import pathlib
import re
import signal
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

USAGE_ERROR = 2
INTERRUPTED = 130
MAX_CHUNK_STEPS = 1000


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.help is None:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # argparse reads "-1e3" as an option unless it looks like a negative number;
        # its own pattern misses exponents (fixed in Python 3.13).
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _learning_rates(text: str) -> tuple[float, ...]:
    rates = tuple(_float(part) for part in text.split(","))
    if any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(f"learning rates must be positive, got {text!r}")
    seen: set[str] = set()
    for rate in rates:
        # Rows and legends show a rate with six significant digits.
        if f"{rate:g}" in seen:
            raise argparse.ArgumentTypeError(f"{rate:g} is named twice in {text!r}")
        seen.add(f"{rate:g}")
    return rates


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ValueError(f"{option} names no loss")
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValueError(f"{option} names {name!r} twice")
    return names


def _threshold(text: str) -> float:
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"the threshold must lie in (0, 1], got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    from jaxloss._files import user_cache_folder

    parser.add_argument(
        "--cache",
        type=pathlib.Path,
        default=user_cache_folder(),
        help="folder that keeps compiled programs and prepared data between runs",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="compile and prepare the data afresh, keep nothing"
    )


def _cache_folder(args: argparse.Namespace) -> pathlib.Path | None:
    return None if args.no_cache else args.cache


def _start_compilation_cache(args: argparse.Namespace) -> None:
    """Points JAX's process-wide compilation cache into the cache folder, if any.

    Called once the arguments are all checked, so that a refused command changes
    nothing in the process (the tests call ``main`` in theirs).
    """
    folder = _cache_folder(args)
    if folder is not None:
        from jaxloss.train import harness

        harness.use_compilation_cache(folder)


def _profile_losses() -> tuple[str, ...]:
    """``jaxloss.analysis.report.PROFILE_LOSSES``, without importing the toolkit.

    A compare run needs none of ``jaxloss.analysis``; tests/test_cli.py checks that
    the two lists agree.
    """
    from jaxloss import registry

    return tuple(
        name
        for name, spec in registry.LOSSES.items()
        if spec.domain == "logit" and spec.target_kind in ("real", "probability")
    )


def build_parser() -> argparse.ArgumentParser:
    from jaxloss.train.datasets import DATASETS
    from jaxloss.train.harness import BINARY_LOSSES, MULTICLASS_LOSSES, OPTIMIZERS
    from jaxloss.train.models import INITS

    parser = _Parser(prog="jaxloss", description="jaxloss: loss-function studies in JAX.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    compare_parser = commands.add_parser(
        "compare",
        formatter_class=_HelpFormatter,
        help="how fast losses train a model, over many seeds",
        description=(
            "Train the same model from the same seeds with each loss and compare how "
            "many steps each needs to reach a training-accuracy threshold."
        ),
    )
    compare_parser.add_argument(
        "--dataset", choices=list(DATASETS), default="breast_cancer", help="the data"
    )
    compare_parser.add_argument(
        "--model",
        default="logistic",
        help="'logistic' or 'mlp:WIDTHS[:ACTIVATION]', e.g. mlp:32,16:tanh",
    )
    compare_parser.add_argument(
        "--losses",
        help=(
            "comma-separated loss names (default: sigmoid_mse,sigmoid_binary_cross_entropy "
            "for binary data; the integer-label cross-entropy, one_hot_mse and "
            f"rescaled_square_loss for multi-class data). Binary data: {', '.join(BINARY_LOSSES)}; "
            f"multi-class data: {', '.join(MULTICLASS_LOSSES)}"
        ),
    )
    compare_parser.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        default="sgd",
        help=(
            "the optax optimizer; every step uses the whole training split, so gd and sgd "
            "are the same full-batch step w -= lr * grad"
        ),
    )
    compare_parser.add_argument(
        "--lr", type=_learning_rates, default="0.1", help="one or several, comma-separated"
    )
    compare_parser.add_argument("--seeds", type=_positive_int, default=32, help="number of seeds")
    compare_parser.add_argument(
        "--steps", type=_positive_int, default=3000, help="full-batch steps"
    )
    compare_parser.add_argument(
        "--init", choices=list(INITS), default="normal", help="the initialisation"
    )
    compare_parser.add_argument(
        "--threshold", type=_threshold, default=0.95, help="training accuracy to reach"
    )
    compare_parser.add_argument(
        "--loss-threshold", type=_positive_float, help="also count steps to this training loss"
    )
    compare_parser.add_argument(
        "--out", type=pathlib.Path, help="output folder (default: runs/<timestamp>)"
    )
    compare_parser.add_argument(
        "--devices", type=_positive_int, default=1, help="devices to shard the seeds across"
    )
    compare_parser.add_argument(
        "--sharpness-every",
        type=_positive_int,
        metavar="K",
        help=(
            "also record the sharpness (top eigenvalue of the training-loss Hessian, by "
            "Lanczos) every K steps, and draw it against the stability threshold 2/lr"
        ),
    )
    compare_parser.add_argument(
        "--sharpness-iterations",
        type=_positive_int,
        metavar="N",
        help="Lanczos iterations per sharpness measurement (default 20; needs --sharpness-every)",
    )
    _add_cache_options(compare_parser)
    compare_parser.set_defaults(handler=compare, parser=compare_parser)

    profile_parser = commands.add_parser(
        "profile",
        formatter_class=_HelpFormatter,
        help="where losses on a sigmoid output stop teaching",
        description=(
            "Gradient profiles, saturated logit intervals, weight-scale landscapes and "
            "per-layer gradient norms of losses on one sigmoid output."
        ),
    )
    profile_parser.add_argument(
        "--losses",
        default="sigmoid_mse,sigmoid_binary_cross_entropy",
        help=f"comma-separated, from: {', '.join(_profile_losses())}",
    )
    profile_parser.add_argument("--target", type=_float, default=0.0, help="target in [0, 1]")
    profile_parser.add_argument(
        "--tol", type=_float, default=0.05, help="saturation: fraction of the largest gradient"
    )
    profile_parser.add_argument("--min", type=_float, default=-10.0, help="smallest logit")
    profile_parser.add_argument("--max", type=_float, default=10.0, help="largest logit")
    profile_parser.add_argument(
        "--points", type=_positive_int, default=401, help="points on the logit grid"
    )
    profile_parser.add_argument(
        "--train-steps", type=_positive_int, default=300, help="steps of the layer-gradient run"
    )
    profile_parser.add_argument(
        "--out", type=pathlib.Path, help="output folder (default: runs/profile-<timestamp>)"
    )
    _add_cache_options(profile_parser)
    profile_parser.set_defaults(handler=profile, parser=profile_parser)
    return parser


class _Progress:
    """A progress bar on stderr, shown once a run has taken longer than two seconds."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, loss: str, done: int, total: int) -> None:
        if not sys.stderr.isatty() or time.perf_counter() - self.start < 2.0:
            return
        width = 30
        filled = round(width * done / total)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{loss[:40]:<40} [{bar}] {done}/{total} steps")
        sys.stderr.flush()
        self.shown = True
        if done == total:
            sys.stderr.write("\n")


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def _sharpness_options(args: argparse.Namespace) -> tuple[int | None, int]:
    """``(sharpness_every, sharpness_iterations)``, checked against each other and --steps."""
    default_iterations = 20
    if args.sharpness_every is None:
        if args.sharpness_iterations is not None:
            raise ValueError("--sharpness-iterations needs --sharpness-every")
        return None, default_iterations
    if args.sharpness_every >= args.steps:
        raise ValueError(
            f"--sharpness-every {args.sharpness_every} must be below --steps {args.steps}: "
            "the sharpness is measured at steps 0, K, 2K, ... before the last"
        )
    if args.sharpness_iterations is None:
        return args.sharpness_every, default_iterations
    return args.sharpness_every, args.sharpness_iterations


def compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from jaxloss._files import prepare_output_folder
    from jaxloss.train import compare as study_module
    from jaxloss.train import datasets
    from jaxloss.train.models import parse_model

    try:
        model = parse_model(args.model)
        sharpness_every, sharpness_iterations = _sharpness_options(args)
        losses = None if args.losses is None else _names(args.losses, "--losses")
        dataset = datasets.load(args.dataset, cache_folder=_cache_folder(args))
        if losses is None:
            losses = (
                study_module.DEFAULT_BINARY_LOSSES
                if dataset.is_binary
                else study_module.DEFAULT_MULTICLASS_LOSSES
            )
        config = study_module.StudyConfig(
            dataset=args.dataset,
            model=model,
            losses=losses,
            optimizer=args.optimizer,
            learning_rates=args.lr,
            seeds=args.seeds,
            steps=args.steps,
            init=args.init,
            threshold=args.threshold,
            loss_threshold=args.loss_threshold,
            devices=args.devices,
            sharpness_every=sharpness_every,
            sharpness_iterations=sharpness_iterations,
        )
        from jaxloss.train import harness

        for loss in losses:
            harness.Experiment(
                loss=loss,
                model=model,
                optimizer=args.optimizer,
                steps=args.steps,
                sharpness_every=sharpness_every,
                sharpness_iterations=sharpness_iterations,
            )
            harness.check_loss_fits_task(loss, dataset)
        harness.check_devices(args.devices, args.seeds)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = args.out if args.out is not None else pathlib.Path("runs") / stamp
        prepare_output_folder(folder)
    except ValueError as error:
        parser.error(str(error))

    _start_compilation_cache(args)
    signal.signal(signal.SIGTERM, _interrupt)
    show_progress = sys.stderr.isatty()
    completed: dict[str, dict] = {}
    try:
        study = study_module.run(
            config,
            dataset,
            # Chunks short enough that an interrupt waits at most a moment for the
            # ones in flight; twenty of them for a progress bar, which waits for each.
            chunk_steps=min(
                math.ceil(config.steps / (20 if show_progress else 1)), MAX_CHUNK_STEPS
            ),
            on_progress=_Progress() if show_progress else None,
            completed=completed,
        )
    except KeyboardInterrupt:
        _remove_if_empty(folder)
        print(
            f"\ninterrupted after {len(completed)} of {len(losses) * len(config.learning_rates)} "
            "runs; nothing was written",
            file=sys.stderr,
        )
        if completed:
            partial = {"config": config.to_json(), "losses": completed}
            print(study_module.format_table(partial), file=sys.stderr)
        return INTERRUPTED

    for line in study_module.diverged_warnings(study.summary):
        print(f"warning: {line}", file=sys.stderr)
    sharpness = ""
    if config.sharpness_every is not None:
        sharpness = (
            f", sharpness every {config.sharpness_every} steps "
            f"({config.sharpness_iterations} Lanczos iterations)"
        )
    print(
        f"{dataset.name}: {config.model.name}, {config.optimizer}, lr "
        f"{','.join(f'{rate:g}' for rate in config.learning_rates)}, {config.init} init, "
        f"{config.seeds} seeds, {config.steps} steps{sharpness}\n"
    )
    print(study_module.format_table(study.summary))
    try:
        written = study_module.save_data(study, folder)
        print("\nwrote " + ", ".join(str(path) for path in written))
        study_module.save_plot(study, folder / "convergence.png")
    except KeyboardInterrupt:
        print("interrupted while writing; complete files only were left", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # the numbers are safe on disk; report the plot's failure
        print(f"error: convergence.png was not drawn: {error!r}", file=sys.stderr)
        return 1
    print(f"wrote {folder / 'convergence.png'}")
    return 0


def profile(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from jaxloss._files import prepare_output_folder, write_atomic
    from jaxloss.analysis import report

    try:
        config = report.ProfileConfig(
            losses=_names(args.losses, "--losses"),
            target=args.target,
            tol=args.tol,
            logit_min=args.min,
            logit_max=args.max,
            points=args.points,
            train_steps=args.train_steps,
        )
        config.check()
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = args.out if args.out is not None else pathlib.Path("runs") / f"profile-{stamp}"
        prepare_output_folder(folder)
    except ValueError as error:
        parser.error(str(error))

    _start_compilation_cache(args)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        numbers = report.build(config, folder, cache_folder=_cache_folder(args))
        write_atomic(folder / "profile.json", report.to_json_bytes(numbers))
    except KeyboardInterrupt:
        print("interrupted; only complete files were written", file=sys.stderr)
        return INTERRUPTED
    print(report.format_summary(numbers))
    print(
        "\nwrote " + ", ".join(str(folder / name) for name in [*numbers["written"], "profile.json"])
    )
    return 0


def _remove_if_empty(folder: pathlib.Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone: leave it
        folder.rmdir()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.handler(args, args.parser)
    except KeyboardInterrupt:  # before the run started (imports, data): nothing to report
        print("\ninterrupted before the run; nothing was written", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
