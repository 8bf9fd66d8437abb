"""The run-folder contract every command that produces results follows.

``DIR/`` holds:

* ``run.json`` — which package and command made it, its status (``running`` / ``finished``),
  the device and thread count, start and end times;
* ``config.json`` — the resolved configuration (what ``--print_config`` prints, without ``out``);
* ``metrics.json`` — the final metrics;
* ``metrics.csv`` — one row per logged step (columns grow as new metrics appear);
* ``plots/*.png`` and ``log.txt`` (everything the run printed through :meth:`RunDir.print`).

Opening a folder never destroys anything: a missing or empty folder becomes a new run; a
run of the same package and command with the same configuration is resumed (or reported
finished); anything else — a folder of other files, another package's run, a run with a
different configuration — is refused with a one-line :class:`~labcore.errors.DataError`.
Nothing here imports torch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from labcore.errors import DataError
from labcore.io import read_json, write_json, write_text_atomic

__all__ = ["RUN_FILE", "RunDir", "find_runs", "is_run_dir"]

RUN_FILE = "run.json"
#: Keys of config.json that may differ when a run is resumed (they do not change results).
RUNTIME_KEYS = frozenset({"device", "threads"})


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=str))


def _first_difference(old: dict, new: dict, prefix: str = "") -> str | None:
    for key in sorted(set(old) | set(new)):
        if not prefix and key in RUNTIME_KEYS:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key} (was {a!r}, now {b!r})"
    return None


def is_run_dir(path: str | os.PathLike, package: str | None = None) -> bool:
    """Whether ``path`` holds a ``run.json`` (of ``package`` when given)."""
    marker = Path(path) / RUN_FILE
    if not marker.is_file():
        return False
    if package is None:
        return True
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("package") == package
    except (OSError, json.JSONDecodeError):
        return False


def find_runs(paths: list[str | os.PathLike], package: str) -> list[RunDir]:
    """The run folders of ``package`` at or below ``paths`` (sorted); a path with none is refused."""
    runs: list[RunDir] = []
    for raw in paths:
        root = Path(raw)
        if not root.is_dir():
            raise DataError(f"{root}: no such folder")
        found = [root] if is_run_dir(root, package) else []
        found += sorted(p.parent for p in root.rglob(RUN_FILE) if p.parent != root)
        found = [p for p in found if is_run_dir(p, package)]
        if not found:
            raise DataError(f"{root}: holds no {package} run folder (no {RUN_FILE})")
        runs += [RunDir(p) for p in found]
    return runs


@dataclasses.dataclass
class RunDir:
    """One run folder. Build it with :meth:`open`; read an existing one with ``RunDir(path)``."""

    path: Path
    status: str = "finished"
    """``new``, ``resumed`` or ``finished`` (as found when opened)."""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._columns: list[str] | None = None

    # -------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        package: str,
        command: str,
        config: Any,
        device: str | None = None,
        threads: int | None = None,
    ) -> RunDir:
        """Create ``path`` as a run folder, or reopen the same run to resume it.

        Refuses (``DataError``) a folder holding other files, a run of another package or
        command, and a run whose configuration differs from ``config``.
        """
        path = Path(path)
        config = _jsonable(config)
        if path.exists() and not path.is_dir():
            raise DataError(f"--out {path}: is a file, not a folder")
        marker = path / RUN_FILE
        if marker.is_file():
            info = read_json(marker)
            if info.get("package") != package or info.get("command") != command:
                raise DataError(
                    f"--out {path}: holds a run of `{info.get('package')} {info.get('command')}`, "
                    f"not `{package} {command}`; choose another folder"
                )
            old = read_json(path / "config.json") if (path / "config.json").is_file() else {}
            diff = _first_difference(old, config)
            if diff:
                raise DataError(
                    f"--out {path}: holds a run with a different configuration: {diff}; "
                    "choose another folder"
                )
            run = cls(path, status="finished" if info.get("status") == "finished" else "resumed")
            if run.status == "resumed":
                run._write_info(info | {"status": "running", "resumed_at": _now()})
            return run
        if path.is_dir() and any(path.iterdir()):
            raise DataError(
                f"--out {path}: exists and is not a {package} run folder (no {RUN_FILE}); "
                "nothing was changed — choose another folder"
            )
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path, status="new")
        run._write_info(
            {
                "package": package,
                "command": command,
                "status": "running",
                "device": device,
                "threads": threads,
                "started": _now(),
            }
        )
        write_json(run.config_file, config)
        return run

    @classmethod
    def for_args(cls, args: Any, package: str) -> RunDir:
        """:meth:`open` ``args.out`` for a command parsed by :class:`labcore.cli.App`."""
        if args.out is None:
            raise DataError(f"{args.command}: needs --out")
        return cls.open(
            args.out,
            package=package,
            command=args.command,
            config=args.resolved,
            device=args.device,
            threads=args.threads,
        )

    # -------------------------------------------------------------- layout

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def info_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def csv_file(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    @property
    def plots(self) -> Path:
        folder = self.path / "plots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def checkpoints(self) -> Path:
        folder = self.path / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def info(self) -> dict:
        return read_json(self.info_file) if self.info_file.is_file() else {}

    def config(self) -> dict:
        return read_json(self.config_file) if self.config_file.is_file() else {}

    def _write_info(self, info: dict) -> None:
        write_json(self.info_file, info)

    # -------------------------------------------------------------- logging

    def print(self, *parts: Any, file=None) -> None:
        """Print a line to stderr (or ``file``) and append it to ``log.txt``."""
        line = " ".join(str(p) for p in parts)
        print(line, file=file or sys.stderr, flush=True)
        with open(self.log_file, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def log(self, step: int, **metrics: Any) -> None:
        """Append one row to ``metrics.csv`` (``step`` first; new columns rewrite the header)."""
        row = {"step": step, **{k: _scalar(v) for k, v in metrics.items()}}
        columns = self._csv_columns()
        if not columns:
            columns = list(row)
            self._write_csv(columns, [row])
            return
        new = [k for k in row if k not in columns]
        if new:
            rows = self.history()
            self._write_csv(columns + new, [*rows, row])
            return
        with open(self.csv_file, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=columns).writerow(row)

    def history(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells dropped)."""
        if not self.csv_file.is_file():
            return []
        with open(self.csv_file, newline="", encoding="utf-8") as fh:
            return [
                {k: _parse(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(fh)
            ]

    def truncate(self, step: int) -> None:
        """Drop the ``metrics.csv`` rows of steps ``>= step`` (they are redone after a resume)."""
        if not self.csv_file.is_file():
            return
        with open(self.csv_file, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = [r for r in reader if float(r["step"]) < step]
        self._write_csv(columns, rows)

    def _csv_columns(self) -> list[str]:
        if self._columns is None:
            if self.csv_file.is_file():
                with open(self.csv_file, newline="", encoding="utf-8") as fh:
                    self._columns = next(csv.reader(fh), [])
            else:
                self._columns = []
        return self._columns

    def _write_csv(self, columns: list[str], rows: list[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.csv_file, buf.getvalue())
        self._columns = list(columns)

    # -------------------------------------------------------------- results

    def load_metrics(self) -> dict:
        return read_json(self.metrics_file) if self.metrics_file.is_file() else {}

    def update_metrics(self, **metrics: Any) -> dict:
        """Merge ``metrics`` into ``metrics.json`` (atomic rewrite) and return the result."""
        merged = {**self.load_metrics(), **_jsonable(metrics)}
        write_json(self.metrics_file, merged)
        return merged

    def finish(self, **metrics: Any) -> dict:
        """Write the final metrics and mark the run finished (a later open skips it)."""
        merged = self.update_metrics(**metrics)
        self._write_info(self.info() | {"status": "finished", "finished": _now()})
        self.status = "finished"
        return merged


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value


def _parse(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
