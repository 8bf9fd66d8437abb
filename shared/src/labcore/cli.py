"""One command-line layer for every package: jsonargparse over the packages' config dataclasses.

A package describes its commands once::

    app = App("onelayer", "How one-layer transformers ...", package="onelayer_theory", commands=[
        Command("run", run_sweep_cmd, config=RunConfig, presets=PRESETS, help="run a sweep"),
        Command("report", report_cmd, out=None, args=[Arg("dirs", nargs="+", help="run folders")]),
    ])
    main = app.main

and every command gets the same door:

* ``--config FILE`` (YAML or JSON), dotted overrides ``--section.field value`` with YAML
  values (``true``, ``1e-4``, ``[a, b]``), ``--print_config``, attribute docstrings in ``--help``;
* ``--preset NAME``: a named set of defaults (a dict of dotted keys, a function returning a
  config, or a YAML/JSON file), applied below the config file and the command line;
* strict keys: an unknown option or config-file key is refused with one line naming the
  closest valid key, exit code 2, before any work;
* one spelling for the common options: ``--out DIR``, ``--preset``, ``--seed``,
  ``--device`` (``auto`` = CUDA when available) and ``--threads`` (0 = one per core).

Nothing here imports torch: ``--help`` and refusals stay fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from labcore.errors import EXIT_BAD_INPUT, DataError

__all__ = ["App", "Arg", "Args", "Command", "closest", "report_command"]

#: Options every command shares; ``config.json`` keeps them except ``out``.
COMMON = ("out", "preset", "seed", "device", "threads")
#: Keys of the resolved config that do not change results (ignored when a run is resumed).
RUNTIME_KEYS = frozenset({"device", "threads"})

Preset = Mapping[str, Any] | Callable[[], Any] | str | os.PathLike


@dataclasses.dataclass(frozen=True)
class Arg:
    """An option or positional that is not a config field: ``Arg("dirs", nargs="+")``.

    ``name`` without dashes is a positional; ``--name`` an option. Keyword arguments go to
    ``add_argument`` (``type``, ``default``, ``help``, ``nargs``, ``choices``, ``required``).
    """

    name: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __init__(self, name: str, **kwargs: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kwargs", kwargs)

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: what it runs, the config dataclass it reads, its presets and options.

    Attributes:
        name: the subcommand (``train``, ``report``, ...).
        run: called with the parsed :class:`Args`; returns the exit code (``None`` = 0).
        help: one line for the command list.
        config: a dataclass type whose fields become options (nested dataclasses become
            dotted sections). Its ``validate()`` method, if any, runs before ``run``.
        presets: named defaults; ``None`` means the command takes no ``--preset``.
        default_preset: the preset used when none is given.
        out: ``"required"``, ``None`` (no ``--out``) or a default folder.
        common: which of ``seed``, ``device``, ``threads`` the command takes. ``--seed`` is
            the config's own top-level ``seed`` field when it has one.
        args: extra options and positionals that are not config fields.
        check: validation of paths and combinations, run after parsing and before ``run``;
            raise :class:`~labcore.errors.DataError` to refuse.
    """

    name: str
    run: Callable[[Args], int | None]
    help: str = ""
    config: type | None = None
    presets: Mapping[str, Preset] | None = None
    default_preset: str = "default"
    out: str | None = "required"
    common: tuple[str, ...] = ("seed", "device", "threads")
    args: Sequence[Arg] = ()
    check: Callable[[Args], None] | None = None


@dataclasses.dataclass
class Args:
    """What a command receives: the built config, the common options and the extras.

    Attributes:
        command: the subcommand's name.
        config: the config dataclass instance (``None`` for commands without one).
        out: the output folder (``None`` where the command has no ``--out``).
        preset: the preset name (``None`` where the command has none).
        seed: ``--seed`` (or the config's own ``seed``); ``None`` where not taken.
        device: the resolved device string: ``cuda`` when ``--device auto`` finds CUDA, else
            ``cpu``; whatever was given otherwise.
        threads: intra-op threads actually set (``--threads 0`` = one per core).
        options: the extra :class:`Arg` values by name (also readable as attributes).
        resolved: the JSON-able resolved configuration; ``config.json`` of a run holds it.
    """

    command: str
    config: Any
    out: Path | None
    preset: str | None
    seed: int | None
    device: str
    threads: int
    options: dict[str, Any]
    resolved: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        raise AttributeError(name)


def closest(name: str, valid: Sequence[str]) -> str | None:
    """The valid name nearest to a mistyped one (``None`` when nothing is close)."""
    for cutoff in (0.6, 0.4):
        match = difflib.get_close_matches(name, list(valid), n=1, cutoff=cutoff)
        if match:
            return match[0]
    return None


def report_command(
    report: str, help: str = "print the README tables of run folders (mean ± std over seeds)"
) -> Command:
    """The ``report DIR [DIR ...]`` command every package has.

    ``report`` names a function as ``"module:function"`` (imported only when the command
    runs, so ``--help`` stays fast) that takes the list of folders and returns markdown.
    """
    module, _, function = report.partition(":")

    def run(args: Args) -> int:
        import importlib

        print(getattr(importlib.import_module(module), function)(args.dirs))
        return 0

    dirs = Arg("dirs", nargs="+", type=str, help="run folders (or folders holding them)")
    return Command("report", run, help=help, out=None, common=(), args=[dirs])


class App:
    """A console script: a set of :class:`Command` objects behind one parser layer."""

    def __init__(
        self,
        prog: str,
        description: str,
        commands: Sequence[Command],
        *,
        package: str,
        version: str = "",
    ) -> None:
        self.prog = prog
        self.description = description
        self.commands = {c.name: c for c in commands}
        self.package = package
        self.version = version

    # -------------------------------------------------------------- entry points

    def main(self, argv: Sequence[str] | None = None) -> int:
        """``prog COMMAND [options]``: dispatch to a command; bad input exits with code 2."""
        argv = list(sys.argv[1:] if argv is None else argv)
        if not argv or argv[0] in ("-h", "--help"):
            print(self.usage())
            return 0 if argv else EXIT_BAD_INPUT
        if argv[0] == "--version":
            print(f"{self.prog} {self.version}")
            return 0
        name = argv[0]
        if name not in self.commands:
            hint = closest(name, list(self.commands))
            return _refuse(
                f"unknown command {name!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f"; commands: {', '.join(self.commands)}"
            )
        return self.run_command(name, argv[1:], prog=f"{self.prog} {name}")

    def entry(self, name: str, prog: str | None = None) -> Callable[[Sequence[str] | None], int]:
        """A console-script entry point that runs one command directly (``train [options]``)."""

        def main(argv: Sequence[str] | None = None) -> int:
            argv = list(sys.argv[1:] if argv is None else argv)
            return self.run_command(name, argv, prog=prog or name)

        main.__doc__ = f"Entry point running ``{self.prog} {name}``."
        return main

    def usage(self) -> str:
        width = max(len(n) for n in self.commands)
        lines = [f"usage: {self.prog} COMMAND [options]   ({self.prog} COMMAND --help)", ""]
        lines += [self.description, "", "commands:"]
        lines += [f"  {n:<{width}}  {c.help}" for n, c in self.commands.items()]
        return "\n".join(lines)

    # -------------------------------------------------------------- one command

    def run_command(self, name: str, argv: list[str], *, prog: str) -> int:
        command = self.commands[name]
        try:
            args = self.parse(command, argv, prog=prog)
        except DataError as exc:
            return _refuse(str(exc))
        if args is None:  # --help / --print_config already answered
            return 0
        try:
            _apply_runtime(command, args)
            code = command.run(args)
        except DataError as exc:
            return _refuse(str(exc))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return 0 if code is None else int(code)

    def parser(self, command: Command, *, prog: str, preset: str | None = None):
        """The jsonargparse parser of ``command``, defaults taken from ``preset``."""
        from jsonargparse import ArgumentParser

        _configure_jsonargparse()
        parser = ArgumentParser(
            prog=prog,
            description=command.help or None,
            exit_on_error=False,
            default_meta=False,
            allow_abbrev=False,  # strict keys: `--data.coverag` is a typo, not a prefix
        )
        parser.add_argument("--config", action="config", help="a YAML or JSON config file")
        if command.out is not None:
            required = command.out == "required"
            parser.add_argument(
                "--out",
                type=str,
                required=required,
                default=None if required else command.out,
                help="output folder (a run folder of this package; resumed when interrupted)",
            )
        if command.presets is not None:
            parser.add_argument(
                "--preset",
                type=str,
                default=command.default_preset,
                help=f"named defaults: {', '.join(command.presets)}",
            )
        has_seed = command.config is not None and "seed" in _field_names(command.config)
        if "seed" in command.common and not has_seed:
            parser.add_argument("--seed", type=int, default=0, help="random seed")
        if "device" in command.common:
            parser.add_argument(
                "--device", type=str, default="auto", help="auto (CUDA when available), cpu, cuda"
            )
        if "threads" in command.common:
            parser.add_argument(
                "--threads", type=int, default=0, help="intra-op CPU threads (0 = one per core)"
            )
        for extra in command.args:
            parser.add_argument(extra.name, **extra.kwargs)
        if command.config is not None:
            parser.add_class_arguments(command.config, nested_key=None, as_group=False)
            if preset is not None and command.presets is not None:
                parser.set_defaults(_preset_values(command, preset))
        return parser

    def parse(self, command: Command, argv: list[str], *, prog: str) -> Args | None:
        """Parse, check keys and types, build the config and validate it; ``None`` after help."""
        preset = _prescan_preset(command, argv)
        parser = self.parser(command, prog=prog, preset=preset)
        valid = _option_names(parser)
        _check_config_files(argv, valid)
        try:
            namespace = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --print_config
            if exc.code in (0, None):
                return None
            raise DataError(f"{prog}: invalid arguments") from None
        except Exception as exc:  # jsonargparse reports bad input as ArgumentError
            raise DataError(_explain(str(exc), valid)) from None
        try:
            built = parser.instantiate(namespace)
        except Exception as exc:
            raise DataError(" ".join(str(exc).split())) from None
        resolved = _resolved(parser, namespace)
        config = None
        if command.config is not None:
            names = _field_names(command.config)
            config = command.config(**{n: built[n] for n in names})
            if hasattr(config, "validate"):
                validated = config.validate()
                config = validated if isinstance(validated, command.config) else config
        options = {a.dest: built.get(a.dest) for a in command.args}
        seed = built.get("seed") if "seed" in built else None
        args = Args(
            command=command.name,
            config=config,
            out=Path(built["out"]) if built.get("out") else None,
            preset=built.get("preset"),
            seed=seed,
            device=_check_device_name(built.get("device", "cpu")),
            threads=_check_threads(built.get("threads", 0)),
            options=options,
            resolved=resolved,
        )
        if command.check is not None:
            command.check(args)
        if "device" in command.common:
            args.device = _resolve_device(args.device)
        return args


# ---------------------------------------------------------------- helpers


def _refuse(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


_CONFIGURED = False


def _configure_jsonargparse() -> None:
    global _CONFIGURED
    if _CONFIGURED:
        return
    import jsonargparse

    # Field docstrings (the string under each dataclass field) become the --help text.
    jsonargparse.set_parsing_settings(docstring_parse_attribute_docstrings=True)
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    _CONFIGURED = True


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _flatten(data: Mapping[str, Any], prefix: str = "", leaves: set[str] | None = None) -> dict:
    """Nested mappings to dotted keys, stopping at keys that are options themselves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not (leaves and name in leaves):
            flat.update(_flatten(value, name + ".", leaves))
        else:
            flat[name] = value
    return flat


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _load_file(path: str | os.PathLike, what: str) -> dict:
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} {p}: file not found") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise DataError(f"{what} {p}: not a YAML or JSON text file") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{what} {p}:{where} invalid YAML/JSON") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise DataError(f"{what} {p}: expected a mapping of options at the top level")
    return dict(data)


def _preset_values(command: Command, name: str) -> dict[str, Any]:
    assert command.presets is not None
    if name not in command.presets:
        hint = closest(name, list(command.presets))
        raise DataError(
            f"--preset {name!r} is not one of {', '.join(command.presets)}"
            + (f" (did you mean {hint!r}?)" if hint else "")
        )
    preset = command.presets[name]
    if callable(preset):
        preset = _to_plain(preset())
    elif isinstance(preset, str | os.PathLike):
        preset = _load_file(preset, "preset file")
    values = _flatten(_to_plain(dict(preset)))
    values.pop("preset", None)
    return values


def _prescan_preset(command: Command, argv: list[str]) -> str | None:
    """The preset a command line asks for: ``--preset``, else the last config file's ``preset``."""
    if command.presets is None:
        return None
    preset = None
    from_file = None
    for i, token in enumerate(argv):
        key, eq, value = token.partition("=")
        if key not in ("--preset", "--config"):
            continue
        if not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        if key == "--preset":
            preset = value
        elif value:
            loaded = _load_file(value, "--config")
            if "preset" in loaded:
                from_file = str(loaded["preset"])
    return preset or from_file or command.default_preset


def _option_names(parser) -> list[str]:
    """Every dotted option the parser accepts (without dashes)."""
    names: set[str] = set()

    def visit(p) -> None:
        for action in p._actions:
            for opt in action.option_strings:
                if opt.startswith("--"):
                    names.add(opt[2:])
            group_parsers = getattr(action, "_name_parser_map", None)
            if group_parsers:
                for sub in group_parsers.values():
                    visit(sub)

    visit(parser)
    names -= {"help", "print_config"}
    return sorted(names)


def _check_config_files(argv: list[str], valid: list[str]) -> None:
    """Refuse unknown keys in ``--config`` files with the file and the closest valid key."""
    groups = {n.rsplit(".", 1)[0] for n in valid if "." in n}
    leaves = set(valid) - groups
    for i, token in enumerate(argv):
        key, eq, value = token.partition("=")
        if key != "--config":
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise DataError("--config needs a file")
            value = argv[i + 1]
        for name in _flatten(_load_file(value, "--config"), leaves=leaves):
            if name in leaves or name in groups or name == "config":
                continue
            hint = closest(name, [n for n in valid if n != "config"])
            raise DataError(
                f"--config {value}: unknown key {name!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )


_UNRECOGNIZED = re.compile(r"(?:unrecognized arguments|Unrecognized arguments):?\s*(.*)", re.S)


def _explain(message: str, valid: list[str]) -> str:
    """jsonargparse's error as one line; unknown options get the closest valid one."""
    text = " ".join(message.split())
    match = _UNRECOGNIZED.search(text)
    if match:
        unknown = [t for t in match.group(1).split() if t.startswith("-")]
        if unknown:
            name = unknown[0].partition("=")[0]
            hint = closest(name.lstrip("-"), valid)
            return f"unknown option {name}" + (f" (did you mean --{hint}?)" if hint else "")
    text = re.sub(r"^Parser key \"?([\w.]+)\"?:", r"--\1:", text)
    return text


def _resolved(parser, namespace) -> dict[str, Any]:
    """The resolved options as plain JSON-able data (what ``config.json`` holds)."""
    import yaml

    dumped = yaml.safe_load(parser.dump(namespace, format="yaml", skip_none=False))
    dumped.pop("config", None)
    dumped.pop("out", None)
    return dumped or {}


def _check_device_name(device: str) -> str:
    if device in ("auto", "cpu", "mps", "cuda") or re.fullmatch(r"cuda:\d+", device):
        return device
    raise DataError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")


def _resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` or ``cpu``; asking for CUDA without one is refused."""
    from labcore.device import resolve_device

    return resolve_device(device)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _check_threads(threads: int) -> int:
    if threads < 0:
        raise DataError(f"--threads must be >= 0 (got {threads})")
    return threads or _cores()


def _apply_runtime(command: Command, args: Args) -> None:
    """Set the thread count before any work (torch is imported only here, and only if used)."""
    if "threads" not in command.common:
        return
    from labcore.device import set_threads

    set_threads(args.threads)
