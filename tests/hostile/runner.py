"""Run one hostile case in a fresh folder and judge what happened.

A case runs in its own temporary root folder (``<root>``, named ``hostile-root``) with the
working directory ``<root>/proj``. Every file and folder under the root is snapshotted (relative
path -> kind, permission bits, SHA-256) before and after the command; anything that changed
outside the paths the case allows is reported.

Two ways to run the command line, same judgement:

* in-process (pytest): ``typer.testing.CliRunner`` on ``klynge_opt.cli.app``; an exception the
  runner catches (anything but ``SystemExit``) is a crash;
* in a subprocess (census, and cases that need real processes): ``python3 -m klynge_opt`` with
  ``PYTHONPATH=<src>``, so another checkout can be measured; ``Traceback`` in the output, or death
  by a signal nobody sent, is a crash. Cases with a ``patch`` (simulated full disk, ...) run
  through ``shim.py``, which applies the patch in the child before starting the command line.

Classes (``judge``), most severe first: ``loss`` (a file or folder outside the allowed paths was
changed or deleted), ``crash`` (traceback / uncaught exception / timeout), ``wrong`` (success where
a failure was expected or the reverse, a forbidden claim in the output, a failed extra assertion,
stray files left outside the allowed paths), ``unclear`` (right outcome class but another non-zero
exit code, or a required name missing from the message), ``clean``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CLASSES: tuple[str, ...] = ("clean", "unclear", "crash", "wrong", "loss")
TESTS_DIR = Path(__file__).resolve().parents[1]
ROOT_NAME = "hostile-root"
PROJECT = "proj"
#: Seconds before a subprocess counts as hung (a crash).
TIMEOUT = 300.0
#: Umask every case runs under: created files must then be 0644, folders 0755.
UMASK = 0o022


class SetupError(Exception):
    """A case's setup could not be completed (the case is not judged)."""


@dataclass
class Outcome:
    exit_code: int | None
    output: str
    #: Why this counts as a crash (traceback, uncaught exception, timeout), else None.
    crash: str | None = None


@dataclass(frozen=True)
class Case:
    """One hostile input: what to prepare, what to run, what must (not) happen.

    Strings in ``argv``, ``must``, ``must_not`` and ``allowed`` may hold the placeholders
    ``{root}`` (the snapshot root), ``{proj}`` (the working directory) and ``{repo}`` (the root of
    the checkout under test: its ``scenarios/`` and ``data/``).
    """

    id: str
    #: Class of input: data loss, wrong plan, traceback, output safety, check trust, input
    #: handling.
    kind: str
    argv: tuple[str, ...]
    #: Expected exit code (or codes).
    exit: int | tuple[int, ...]
    setup: tuple[Callable[[Ctx], None], ...] = ()
    #: Substrings that must appear in stdout + stderr (case-insensitive; line wrapping ignored).
    must: tuple[str, ...] = ()
    #: Substrings that must not appear (claims such as "(proven").
    must_not: tuple[str, ...] = ()
    #: Paths relative to the root that may change or appear ("*" = anything).
    allowed: tuple[str, ...] = ()
    #: Paths that must stay untouched even when ``allowed`` contains "*".
    protect: tuple[str, ...] = ()
    #: More checks after the run; raise AssertionError (or anything) on failure.
    extra: Callable[[Ctx, Outcome], None] | None = None
    #: Applied (with a pytest MonkeyPatch) just before the command, in whatever process runs it.
    patch: Callable[[pytest.MonkeyPatch, Ctx], None] | None = None
    #: Runs the command itself (real processes, signals); replaces ``argv``.
    custom: Callable[[Ctx], Outcome] | None = None
    #: Returns a reason to skip (e.g. running as root), or None.
    skip: Callable[[Ctx], str | None] | None = None
    slow: bool = False
    note: str = ""

    @property
    def exits(self) -> tuple[int, ...]:
        return self.exit if isinstance(self.exit, tuple) else (self.exit,)


# --------------------------------------------------------------------------- running


def module_command(argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "klynge_opt", *argv]


def outcome_of(returncode: int | None, output: str, sent: Sequence[int] = ()) -> Outcome:
    crash = None
    if "Traceback (most recent call last)" in output:
        last = next((ln for ln in reversed(output.splitlines())
                     if re.match(r"[A-Za-z_][\w.]*(Error|Exception|Interrupt|Warning)\b", ln)),
                    "")
        crash = f"traceback in the output: {last}".strip()
    code = returncode
    if returncode is not None and returncode < 0:
        sig = -returncode
        code = 128 + sig
        if sig not in sent:
            crash = crash or f"killed by signal {sig}"
    return Outcome(code, output, crash)


@dataclass
class Ctx:
    """Where a case runs and how its commands are started."""

    root: Path
    repo: Path
    #: ``src`` folder of the checkout under test for subprocesses; None = the installed one.
    src: Path | None = None
    in_process: bool = True
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def proj(self) -> Path:
        return self.root / PROJECT

    def sub(self, text: str) -> str:
        return (text.replace("{root}", str(self.root)).replace("{proj}", str(self.proj))
                .replace("{repo}", str(self.repo)))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(self.src)] if self.src is not None else []
        paths.append(str(TESTS_DIR))
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.pop("COLUMNS", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def cli(self, *argv: str) -> Outcome:
        """Run the command line the way this context runs everything (no patch)."""
        args = [self.sub(a) for a in argv]
        if self.in_process:
            return invoke_in_process(args)
        return self.subprocess(module_command(args))

    def must_cli(self, *argv: str, ok: tuple[int, ...] = (0,)) -> Outcome:
        out = self.cli(*argv)
        if out.exit_code not in ok or out.crash:
            raise SetupError(f"setup command {list(argv)} gave exit {out.exit_code}"
                             f"{' (' + out.crash + ')' if out.crash else ''}:\n"
                             f"{out.output[-3000:]}")
        return out

    def subprocess(self, command: list[str], timeout: float = TIMEOUT) -> Outcome:
        try:
            proc = subprocess.run(command, cwd=self.proj, env=self.env(), capture_output=True,
                                  text=True, errors="replace", timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            text = (_text(exc.stdout) + _text(exc.stderr))
            return Outcome(None, text, f"timed out after {timeout:.0f} s")
        return outcome_of(proc.returncode, proc.stdout + proc.stderr)

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(module_command([self.sub(a) for a in argv]), cwd=self.proj,
                                env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def invoke_in_process(argv: Sequence[str]) -> Outcome:
    from typer.testing import CliRunner

    from klynge_opt.cli import app

    res = CliRunner().invoke(app, list(argv), catch_exceptions=True)
    crash = None
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        crash = "uncaught " + "".join(traceback.format_exception(res.exception))[-3000:]
    elif "Traceback (most recent call last)" in res.output:
        crash = "traceback in the output"
    return Outcome(res.exit_code, res.output, crash)


def run_main(case: Case, ctx: Ctx) -> Outcome:
    """The case's command, with its patch applied in the process that runs it."""
    if case.custom is not None:
        return case.custom(ctx)
    args = [ctx.sub(a) for a in case.argv]
    if ctx.in_process:
        mp = pytest.MonkeyPatch()
        try:
            if case.patch is not None:
                case.patch(mp, ctx)
            return invoke_in_process(args)
        finally:
            mp.undo()
    if case.patch is not None:
        shim = Path(__file__).with_name("shim.py")
        return ctx.subprocess([sys.executable, str(shim), case.id, str(ctx.root), str(ctx.repo),
                               "--", *args])
    return ctx.subprocess(module_command(args))


@contextlib.contextmanager
def umask(mask: int = UMASK) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- snapshots

Snapshot = dict[str, tuple[Any, ...]]


def snapshot(root: Path) -> Snapshot:
    """Relative path -> (kind, permission bits[, sha256]) for everything under ``root``."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode)
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256()
                try:
                    with open(path, "rb") as fh:
                        for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                            digest.update(block)
                    out[rel] = ("file", mode, digest.hexdigest())
                except OSError as exc:
                    out[rel] = ("file", mode, f"unreadable: {exc}")
            else:
                out[rel] = ("other", mode)
    return out


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    return any(p == "*" or rel == p or rel.startswith(p.rstrip("/") + "/") for p in patterns)


def _ancestor(rel: str, patterns: Sequence[str]) -> bool:
    return any(p != "*" and p.startswith(rel + "/") for p in patterns)


# --------------------------------------------------------------------------- judging


@dataclass
class Verdict:
    cls: str
    reasons: list[str]

    def __str__(self) -> str:
        return f"{self.cls}: " + "; ".join(self.reasons) if self.reasons else self.cls


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def contains(output: str, needle: str) -> bool:
    return needle.lower() in output.lower() or _squash(needle) in _squash(output)


def judge(case: Case, ctx: Ctx, outcome: Outcome, before: Snapshot, after: Snapshot
          ) -> Verdict:
    found: dict[str, list[str]] = {c: [] for c in CLASSES}
    allowed = [ctx.sub(a).removeprefix(str(ctx.root) + "/") for a in case.allowed]
    protect = [ctx.sub(a).removeprefix(str(ctx.root) + "/") for a in case.protect]

    def may_change(rel: str) -> bool:
        return _matches(rel, allowed) and not _matches(rel, protect)

    for rel, was in sorted(before.items()):
        now = after.get(rel)
        if now != was and not may_change(rel):
            what = "deleted" if now is None else ("mode changed" if now[:1] == was[:1] and
                                                  now[2:] == was[2:] else "changed")
            found["loss"].append(f"{rel} {what}")
    new = set(after) - set(before)
    for rel in sorted(new):
        if may_change(rel) or (after[rel][0] == "dir" and _ancestor(rel, allowed)):
            continue
        if after[rel][0] == "dir" and not any(o.startswith(rel + "/") for o in new):
            continue  # an empty new folder holds nothing and hides nothing
        found["wrong"].append(f"stray {rel} created")
    if outcome.crash:
        lines = outcome.crash.strip().splitlines() or ["crash"]
        found["crash"].extend(dict.fromkeys([lines[0], lines[-1]]))
    elif "Traceback" in outcome.output:
        found["crash"].append("'Traceback' in the output")
    code, exits = outcome.exit_code, case.exits
    if code not in exits:
        if code is None:
            pass  # timed out: already a crash
        elif (0 in exits) != (code == 0):
            found["wrong"].append(f"exit {code}, expected {'/'.join(map(str, exits))}")
        else:
            found["unclear"].append(f"exit {code}, expected {'/'.join(map(str, exits))}")
    for text in case.must_not:
        if contains(outcome.output, ctx.sub(text)):
            found["wrong"].append(f"output contains {ctx.sub(text)!r}")
    if case.extra is not None and not found["loss"] and not found["crash"]:
        try:
            case.extra(ctx, outcome)
        except Exception as exc:  # an extra assertion failing is a wrong result
            found["wrong"].append(f"extra check: {type(exc).__name__}: {exc}"[:600])
    missing = [ctx.sub(t) for t in case.must if not contains(outcome.output, ctx.sub(t))]
    if missing:
        found["unclear"].append("message lacks " + ", ".join(repr(m) for m in missing))
    for cls in ("loss", "crash", "wrong", "unclear"):
        if found[cls]:
            reasons = [r for c in ("loss", "crash", "wrong", "unclear") for r in found[c]]
            return Verdict(cls, reasons)
    return Verdict("clean", [])


def new_ctx(base: Path, repo: Path, *, src: Path | None = None, in_process: bool) -> Ctx:
    root = base / ROOT_NAME
    (root / PROJECT).mkdir(parents=True)
    return Ctx(root=root, repo=repo, src=src, in_process=in_process)


def run_case(case: Case, ctx: Ctx) -> tuple[Verdict, Outcome]:
    """Set up, snapshot, run, snapshot, judge. Raises SetupError if the setup fails."""
    with umask():
        for step in case.setup:
            step(ctx)
        before = snapshot(ctx.root)
        outcome = run_main(case, ctx)
        after = snapshot(ctx.root)
        return judge(case, ctx, outcome, before, after), outcome


def report(case: Case, ctx: Ctx, verdict: Verdict, outcome: Outcome) -> str:
    argv = " ".join(ctx.sub(a) for a in case.argv) if case.custom is None else "(custom)"
    return (f"[{case.kind}] {case.id}: {verdict}\n  klynge-opt {argv}\n  exit "
            f"{outcome.exit_code}, expected {case.exit}\n--- output ---\n"
            f"{outcome.output[-4000:]}")


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
