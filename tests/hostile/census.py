"""Census of the hostile-input corpus: run every case in a subprocess and count the classes.

    python3 tests/hostile/census.py [--src PATH] [--only TEXT] [--jobs N] [--json FILE]

``--src`` is the ``src`` folder of the checkout to measure (default: the one beside these
tests); the command line runs as ``python3 -m klynge_opt`` with ``PYTHONPATH=<src>``, and the
Danish data and bundled scenarios come from ``<src>/..``. Each case gets a fresh temporary
folder. Classes (see runner.py): clean, unclear, crash, wrong, loss; a case whose setup fails is
counted as ``setup-error``, one that cannot run here as ``skipped``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=TESTS.parent / "src",
                        help="src folder of the checkout under test")
    parser.add_argument("--only", action="append", default=[],
                        help="run only cases whose id contains this (repeatable)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="cases run at once (signal and concurrency cases run alone)")
    parser.add_argument("--json", type=Path, help="write the per-case verdicts here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)

    src = args.src.resolve()
    if not (src / "klynge_opt" / "__init__.py").is_file():
        parser.error(f"{src} holds no klynge_opt package")
    # Setups use the package under test too (synthetic_tables), so import it from --src.
    sys.path[:0] = [str(src), str(TESTS)]
    from hostile.cases import CASES
    from hostile.runner import CLASSES, SetupError, new_ctx, run_case

    repo = src.parent
    cases = [c for c in CASES if not args.only or any(o in c.id for o in args.only)]
    base = Path(tempfile.mkdtemp(prefix="klynge-census-"))

    def one(index: int) -> dict[str, object]:
        case = cases[index]
        folder = base / f"{index:04d}"
        folder.mkdir()
        ctx = new_ctx(folder, repo, src=src, in_process=False)
        start = time.monotonic()
        row: dict[str, object] = {"id": case.id, "kind": case.kind}
        try:
            reason = case.skip(ctx) if case.skip is not None else None
            if reason:
                row.update(cls="skipped", reasons=[reason])
            else:
                verdict, outcome = run_case(case, ctx)
                row.update(cls=verdict.cls, reasons=verdict.reasons, exit=outcome.exit_code,
                           output=outcome.output[-2000:])
        except SetupError as exc:
            row.update(cls="setup-error", reasons=[str(exc)[:500]])
        except Exception as exc:  # a broken case must not stop the census
            row.update(cls="setup-error", reasons=[f"{type(exc).__name__}: {exc}"[:500]])
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        row["seconds"] = round(time.monotonic() - start, 1)
        line = f"{row['cls']:<11} {case.id:<52} {row['seconds']:>6}s"
        if row["cls"] != "clean":
            line += "  " + "; ".join(str(r) for r in row.get("reasons", []))[:300]
        print(line, flush=True)
        return row

    alone = [i for i, c in enumerate(cases) if c.custom is not None]
    shared = [i for i in range(len(cases)) if i not in alone]
    started = time.monotonic()
    print(f"census of {len(cases)} cases against {src} (jobs {args.jobs})", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = dict(zip(shared, pool.map(one, shared), strict=True))
    rows.update({i: one(i) for i in alone})
    ordered = [rows[i] for i in range(len(cases))]

    counts = Counter(str(r["cls"]) for r in ordered)
    order = [*CLASSES, "setup-error", "skipped"]
    print(f"\n{len(ordered)} cases in {time.monotonic() - started:.0f} s against {src}")
    print("  " + ", ".join(f"{c} {counts[c]}" for c in order if counts[c] or c in CLASSES))
    kinds = sorted({str(r["kind"]) for r in ordered})
    print(f"\n{'class of input':<16}" + "".join(f"{c:>12}" for c in order))
    for kind in kinds:
        per = Counter(str(r["cls"]) for r in ordered if r["kind"] == kind)
        print(f"{kind:<16}" + "".join(f"{per[c]:>12}" for c in order))
    if args.json:
        args.json.write_text(json.dumps({"src": str(src), "counts": dict(counts),
                                         "cases": ordered}, indent=2), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"folders kept in {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
