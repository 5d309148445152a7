# Copyright (c) 2026 the keras-single-files authors. MIT License:
# Permission is hereby granted, free of charge, to any person obtaining a copy of this software
# and associated documentation files (the "Software"), to deal in the Software without
# restriction, including without limitation the rights to use, copy, modify, merge, publish,
# distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
# Software is furnished to do so, subject to the following conditions: The above copyright
# notice and this permission notice shall be included in all copies or substantial portions of
# the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
# PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
# LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
# OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
# DEALINGS IN THE SOFTWARE.
"""Unsupervised Chinese new-word discovery, and segmentation with the words it finds.

Keep the n-grams whose characters stick together far more often than chance, cut the corpus
wherever no such n-gram spans a gap, count the pieces, back-check the long ones (Su Jianlin,
"a better new word discovery algorithm", kexue.fm, 2019), here with exact counts:

1. Pieces are the runs of CJK characters and of ASCII letters and digits (full-width ASCII
   made half-width); T = their number of characters.
2. Count the 1..n-grams of pieces (n = ``order``) seen >= ``min_count`` times, by sorting keys
   rank(prefix) * (V + 1) + id(last character).  Cohesion of w = min over splits w = l + r of
   p(w) / (p(l) p(r)), p = count / T; G = the n-grams whose log cohesion reaches ``thresholds``.
3. Cut every gap that no n-gram of G spans (各项 + 项目 chain to 各项目) and count the segments
   seen >= ``min_count`` times; back-check: one of 2..n characters must be in G, a longer one
   must have every n-window in G.  Files are read ``order + 1`` times, in blocks.
4. ``segment`` splits text into its most probable words (unigram model, as jieba without its
   HMM); numbers and dates are kept whole by rule.

Usage::

    from new_words import discover, segment
    words = discover(text, min_count=8)  # a str is text, a Path a file, or a list of them
    tokens = segment(text, words)         # list of words, numbers and punctuation marks

Requires Python >= 3.10 and numpy.  Copy this file into your project; keep this header.  MIT.
"""

__version__ = "0.1.0"
__all__ = ["Word", "discover", "write_words", "segment", "main"]

import argparse
import codecs
import os
import re
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

# ---------------------------------------------------------------- reading text as unit codes

_CJK = ((0x3007, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))


class Word(NamedTuple):
    """A discovered word, its segment count, its log cohesion (None: 1 or > order characters)."""
    word: str
    count: int
    score: float | None


@lru_cache(maxsize=1)
def _word_table() -> np.ndarray:
    """table[c]: code point c is a word character; every code point past the end is not."""
    table = np.zeros(_CJK[-1][1] + 2, bool)
    for lo, hi in (*_CJK, (48, 57), (65, 90), (97, 122)):
        table[lo:hi + 1] = True
    return table


def _code_points(block: str) -> tuple[np.ndarray, np.ndarray]:
    """Code points of `block`, full-width ASCII made half-width, and its word-character mask."""
    cp = np.frombuffer(block.encode("utf-32-le", "surrogatepass"), np.uint32).astype(np.int32)
    full = (cp - 0xFF01).astype(np.uint32) <= 0xFF5E - 0xFF01  # U+FF01..FF5E in one compare
    cp = np.where(full, cp - 0xFEE0, cp)
    table = _word_table()
    return cp, table[np.minimum(cp, len(table) - 1)]


def _blocks(item: str | os.PathLike, size: int) -> Iterator[str]:
    """Blocks of text of one source item: slices of a string, or decoded blocks of a file."""
    if isinstance(item, str):
        yield from (item[i:i + size] for i in range(0, len(item), size))
        return
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0  # bytes handed to the decoder so far
    with open(item, "rb") as f:
        while True:
            data = f.read(size)
            pending = len(decoder.getstate()[0])
            try:
                yield decoder.decode(data, final=not data)
            except UnicodeDecodeError as err:
                at = offset - pending + err.start
                raise ValueError(f"{os.fspath(item)}: not valid utf-8 at byte offset {at} "
                                 f"({err.reason}); convert the file to UTF-8 first.") from None
            if not data:
                return
            offset += len(data)


def _chunks(source: list, size: int) -> Iterator[np.ndarray]:
    """Chunks of codes (code point, 0 for a separator) that end with a 0: no piece spans two."""
    for item in source:
        pending = []  # codes of the unfinished piece at the end
        for block in _blocks(item, size):
            cp, word = _code_points(block)
            codes = np.where(word, cp, 0)
            if word.all():  # no separator: the piece goes on in the next block
                pending.append(codes)
                continue
            cut = len(word) - int(np.argmax(~word[::-1]))  # just after the last separator
            yield np.concatenate([*pending, codes[:cut]])
            pending = [codes[cut:]]
        if sum(map(len, pending)):
            yield np.concatenate([*pending, np.zeros(1, np.int32)])


# ---------------------------------------------------------------- exact n-gram tables

class _Level(NamedTuple):
    """The frequent k-grams of one order, keyed rank(prefix) * base + id(last unit)."""
    keys: np.ndarray  # int64, sorted
    counts: np.ndarray  # int64
    parent: np.ndarray  # rank of the (k-1)-gram prefix
    suffix: np.ndarray  # rank of the (k-1)-gram suffix


def _lookup(table: np.ndarray, keys: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Rank of each key in the sorted `table` where `ok` and present, -1 elsewhere."""
    rank = np.full(len(keys), -1, np.int64)
    if len(table) == 0:
        return rank
    where = np.flatnonzero(ok)
    where = where[np.argsort(keys[where])]  # sorted queries search several times faster
    query = keys[where]
    pos = np.searchsorted(table, query)
    hit = table[np.minimum(pos, len(table) - 1)] == query
    rank[where[hit]] = pos[hit]
    return rank


def _candidates(prev: np.ndarray, ids: np.ndarray, k: int, base: int):
    """Keys of the k-grams at every position, and where both (k-1)-gram halves are frequent."""
    ok = (prev[:-1] >= 0) & (prev[1:] >= 0)
    return prev[:-1] * base + ids[k - 1:], ok


def _ranks(ids: np.ndarray, levels: list[_Level], upto: int, base: int) -> list[np.ndarray]:
    """ranks[k][i] = rank of the k-gram starting at position i in levels[k], or -1."""
    ranks = [np.empty(0, np.int64), ids.astype(np.int64) - 1]
    for k in range(2, upto + 1):
        keys, ok = _candidates(ranks[k - 1], ids, k, base)
        ranks.append(_lookup(levels[k].keys, keys, ok))
    return ranks


def _merge_all(tables: Iterable[tuple[np.ndarray, np.ndarray]]):
    """Merge the (keys, counts) tables of all chunks, as they come to bound the memory."""
    def merge(parts):  # sorted distinct keys with their summed counts
        keys, counts = (np.concatenate(t) for t in zip(*parts, strict=True))
        if len(parts) == 1 or len(keys) == 0:
            return parts[0]
        order = np.argsort(keys)
        keys, counts = keys[order], counts[order]
        start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        return keys[start], np.add.reduceat(counts, start)
    parts, size = [], 0
    for table in tables:
        parts.append(table)
        size += len(table[0])
        if size > 2 * len(parts[0][0]) + (1 << 22):
            parts = [merge(parts)]
            size = len(parts[0][0])
    return merge(parts) if parts else (np.empty(0, np.int64), np.empty(0, np.int64))


def _level(keys: np.ndarray, counts: np.ndarray, levels: list[_Level], base: int,
           min_count: int) -> _Level:
    """Keep the k-grams seen >= min_count times and link them to their prefix and suffix."""
    keep = counts >= min_count
    keys, counts = keys[keep], counts[keep]
    parent, last = keys // base, keys % base
    if len(levels) == 2:  # bigrams: the suffix is the last unit itself
        suffix = last - 1
    else:  # the suffix of the prefix, extended by the last unit
        prev = levels[-1]
        suffix = _lookup(prev.keys, prev.suffix[parent] * base + last, np.ones(len(keys), bool))
    return _Level(keys, counts, parent, suffix)


def _cohesion(levels: list[_Level], k: int, total: int) -> np.ndarray:
    """Natural-log cohesion of every frequent k-gram: min over splits of p(w)/(p(l)p(r))."""
    n = len(levels[k].keys)
    best = np.full(n, np.inf)
    for j in range(1, k):  # left part of length j, right part of length k - j
        left = right = np.arange(n)
        for m in range(k, j, -1):
            left = levels[m].parent[left]
        for m in range(k, k - j, -1):
            right = levels[m].suffix[right]
        joint = levels[k].counts * float(total)
        ratio = joint / (levels[j].counts[left] * levels[k - j].counts[right].astype(float))
        best = np.minimum(best, ratio)
    return np.log(best)


def _decode(levels: list[_Level], k: int, ranks: np.ndarray, units: list[str]) -> list[str]:
    """Text of k-grams given by their ranks in levels[k]."""
    parts = []
    for m in range(k, 1, -1):
        parts.append(levels[m].keys[ranks] % (len(units)))
        ranks = levels[m].parent[ranks]
    parts.append(ranks + 1)
    return ["".join(units[i] for i in reversed(col)) for col in np.stack(parts, 1).tolist()]


# ---------------------------------------------------------------- re-segmentation

def _count_segments(ids, ranks, cohesive, order, sizes):
    """Back-checked segment counts of one chunk: per-order bincounts + long segments."""
    covered = np.zeros(max(len(ids) - 1, 0), bool)  # gap i lies between units i and i + 1
    inside = [None, None]  # inside[k][i]: the k-gram at i is in G
    for k in range(2, order + 1):
        r = ranks[k]
        in_g = r >= 0
        in_g[in_g] = cohesive[k][r[in_g]]
        inside.append(in_g)
        for j in range(k - 1):  # a k-gram at s spans the gaps s .. s + k - 2
            covered[j:j + len(in_g)] |= in_g
    starts, ends = ids > 0, ids > 0
    starts[1:] &= ~covered
    ends[:-1] &= ~covered
    starts, ends = np.flatnonzero(starts), np.flatnonzero(ends)  # cut at the uncovered gaps
    lengths = ends - starts + 1
    counts = [None, np.bincount(ids[starts[lengths == 1]] - 1, minlength=sizes[1])]
    for k in range(2, order + 1):
        s = starts[lengths == k]
        s = s[inside[k][s]]  # back-check: a segment of length 2..n must itself be in G
        counts.append(np.bincount(ranks[k][s], minlength=sizes[k]))
    long = Counter()
    s, n = starts[lengths > order], lengths[lengths > order]
    if len(s):  # every n-window of a longer segment must be in G
        bad = np.r_[0, np.cumsum(~inside[order])]
        fine = bad[s + n - order + 1] == bad[s]
        long.update(ids[a:a + m].tobytes() for a, m in zip(s[fine], n[fine], strict=True))
    return counts, long


# ---------------------------------------------------------------- checking arguments

_MAX_ORDER, _MAX_CHUNK = 32, 1 << 30


def _check_int(name: str, value, low: int, high: int) -> None:
    """A Python or numpy integer (not a bool) in [low, high], or a three-part error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer in [{low}, {high}], received {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"`{name}` must be an integer in [{low}, {high}], received {value}.")


def _check_args(texts, min_count, order, thresholds, chunk_size):
    """Validate the arguments of discover(); return (source list, thresholds tuple)."""
    _check_int("min_count", min_count, 1, 2 ** 62)
    _check_int("order", order, 2, _MAX_ORDER)  # each order is one more pass over the corpus
    _check_int("chunk_size", chunk_size, 1, _MAX_CHUNK)
    if thresholds is None:
        thresholds = [2.0 * (k - 1) for k in range(2, order + 1)]
    # a str or bytes is refused whole: "246" is not (2, 4, 6), nor b"246" (50, 52, 54)
    many = isinstance(thresholds, Iterable) and not isinstance(thresholds, (str, bytes))
    values = list(thresholds) if many else [thresholds]
    if not all(isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool)
               and t == t for t in values):  # True and NaN are no thresholds; +-inf are
        raise ValueError(f"`thresholds` must be numbers, not NaN, received {thresholds!r}.")
    thresholds = tuple(map(float, values))
    if len(thresholds) != order - 1:
        raise ValueError(f"`thresholds` must have order - 1 = {order - 1} values (for lengths "
                         f"2..{order}), received {len(thresholds)}: {thresholds}.")
    source = [texts] if isinstance(texts, (str, os.PathLike)) else texts
    if not isinstance(source, Iterable) or iter(source) is source:
        raise TypeError("`texts` must be a str, a path, or a re-readable collection of them "
                        f"(it is read several times), received {type(texts).__name__}.")
    source = list(source)
    for item in source:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"`texts` items must be str (text) or os.PathLike (file), "
                            f"received {type(item).__name__}.")
        name = os.fspath(item)
        if not isinstance(item, str) and not os.path.exists(item):
            raise FileNotFoundError(f"`texts` must name existing files; not found: {name}.")
        if isinstance(item, str):
            continue
        if not os.path.isfile(item):  # a directory, FIFO or device: not read order + 1 times
            raise ValueError(f"`texts` must name regular files, received {name}.")
        try:  # the first block of a file: readable and UTF-8
            next(_blocks(item, 1 << 16))
        except OSError as err:
            raise PermissionError(f"`texts` must name readable files, received {name} "
                                  f"({err.strerror}).") from None
    return source, thresholds


# ---------------------------------------------------------------- discovery

def discover(texts: str | os.PathLike | Iterable[str | os.PathLike], min_count: int = 8,
             order: int = 4, thresholds: Iterable[float] | None = None, *,
             chunk_size: int = 1 << 21) -> list[Word]:
    """Discover the words of a corpus (cohesion -> re-segmentation -> back-check).

    Args:
        texts: a text (str), a UTF-8 file (os.PathLike), or a list of them.
        min_count: minimum count of an n-gram and of a final word.
        order: longest n-gram n, 2..32.
        thresholds: minimum log cohesion for lengths 2..order (default 2(k-1): 2, 4, 6).
        chunk_size: block size (characters of a str, bytes of a file); sets the memory only.

    Returns `Word` records by decreasing count, then by word.  Raises ValueError or TypeError
    for a bad argument or a file that is not UTF-8 (with the offset), OSError for a missing or
    unreadable corpus file (all checked before any work).
    """
    source, thresholds = _check_args(texts, min_count, order, thresholds, chunk_size)

    def passes(fn):  # one pass over the corpus: fn on each chunk, in order
        return map(fn, _chunks(source, chunk_size))

    # pass 1: character counts -> ids 1..V for the frequent ones, 0 for the rest and separators
    size = len(_word_table())  # codes are word characters' code points, all below its end
    unit_counts = np.zeros(size, np.int64)
    for c in passes(lambda codes: np.bincount(codes, minlength=size)):
        unit_counts += c
    unit_counts[0] = 0
    total = int(unit_counts.sum())
    frequent = np.flatnonzero(unit_counts >= min_count)
    base = len(frequent) + 1
    lut = np.zeros(len(unit_counts), np.int32)
    lut[frequent] = np.arange(1, base, dtype=np.int32)
    units = [""] + [chr(c) for c in frequent]
    empty = np.empty(0, np.int64)
    levels = [None, _Level(np.arange(1, base), unit_counts[frequent], empty, empty)]

    # passes 2..order: exact counts of the k-grams whose prefix and suffix are frequent
    for k in range(2, order + 1):
        def count(codes, k=k):
            ids = lut[codes]
            keys, ok = _candidates(_ranks(ids, levels, k - 1, base)[k - 1], ids, k, base)
            keys, counts = np.unique(keys[ok], return_counts=True)
            return keys, counts.astype(np.int64)
        levels.append(_level(*_merge_all(passes(count)), levels, base, min_count))

    scores = [None, None] + [_cohesion(levels, k, total) for k in range(2, order + 1)]
    cohesive = [None, None] + [scores[k] >= thresholds[k - 2] for k in range(2, order + 1)]
    sizes = [None] + [len(lv.keys) for lv in levels[1:]]

    # last pass: re-segment, back-check and count the segments
    def segment(codes):
        ids = lut[codes]
        return _count_segments(ids, _ranks(ids, levels, order, base), cohesive, order, sizes)
    seg_counts = [None] + [np.zeros(n, np.int64) for n in sizes[1:]]
    long = Counter()
    for counts, longer in passes(segment):
        for k in range(1, order + 1):
            seg_counts[k] += counts[k]
        long.update(longer)
    return _collect(levels, scores, seg_counts, long, units, min_count)


def _collect(levels, scores, seg_counts, long, units, min_count) -> list[Word]:
    """Turn the segment counts into Word records, by decreasing count, then by word."""
    words = []
    for k in range(1, len(levels)):
        ranks = np.flatnonzero(seg_counts[k] >= min_count)
        texts = [units[r + 1] for r in ranks] if k == 1 else _decode(levels, k, ranks, units)
        score = [None] * len(ranks) if k == 1 else scores[k][ranks].tolist()
        words += zip(texts, seg_counts[k][ranks].tolist(), score, strict=True)
    for key, n in long.items():
        if n >= min_count:
            words.append(("".join(units[i] for i in np.frombuffer(key, np.int32)), n, None))
    return [Word(*w) for w in sorted(words, key=lambda w: (-w[1], w[0]))]


def _lines(words: Iterable[Word], fmt: str) -> Iterator[str]:
    """Output lines: TSV with a header (score blank when None), or jieba's `word count`."""
    if fmt == "jieba":
        yield from (f"{w.word} {w.count}\n" for w in words)
        return
    yield "word\tcount\tscore\n"
    yield from (f"{w.word}\t{w.count}\t{'' if w.score is None else f'{w.score:.6f}'}\n"
                for w in words)


# ---------------------------------------------------------------- output files

def _check_output(path, name: str = "path", inputs: Iterable = ()) -> str:
    """The file to write for `path` (a symlink's target), checked before any long work: not
    an input file, not a directory, in a folder that takes a new file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a file path, received {path!r}.")
    for item in inputs:
        if (os.path.samefile(path, item) if os.path.exists(path) and os.path.exists(item)
                else os.path.realpath(path) == os.path.realpath(item)):
            raise ValueError(f"`{name}` must not be an input file, received {os.fspath(path)} "
                             f"(the same file as {os.fspath(item)}).")
    if os.path.isdir(path):
        raise IsADirectoryError(f"`{name}` must be a file, received the directory "
                                f"{os.fspath(path)}.")
    if os.path.exists(path) and not os.path.isfile(path):  # a device, FIFO, /dev/stdout
        return os.fspath(path)
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"`{name}` must be in an existing folder, received "
                                f"{os.fspath(path)} (output folder {folder} does not exist).")
    try:  # a real probe: os.access says yes to root even on a read-only mount
        fd, probe = _temp_file(folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(f"`{name}` must be writable, received {os.fspath(path)} (cannot "
                              f"create a file in {folder}: {err.strerror}).") from None
    return target


def _temp_file(folder: str) -> tuple[int, str]:
    """A new hidden file in `folder`; mode 0666 less the umask, as `open(path, "w")` gives."""
    tmp = os.path.join(folder, f".new_words.{os.urandom(6).hex()}.tmp")
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp


def _write_lines(lines: Iterable[str], path, name: str = "path") -> None:
    """Write text lines to `path` atomically: a temporary file beside the target, with the
    mode of the file it replaces, renamed at the end and removed on any error or interruption
    (no partial file); a symlink is written through, a device or FIFO directly."""
    target = _check_output(path, name)
    if os.path.exists(target) and not os.path.isfile(target):
        with open(target, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        return
    mode = os.stat(target).st_mode & 0o7777 if os.path.exists(target) else None
    fd, tmp = _temp_file(os.path.dirname(target))
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as err:
        os.unlink(tmp)
        if isinstance(err, OSError) and err.filename in (None, tmp):  # not a reading error
            raise OSError(f"`{name}`: cannot write {os.fspath(path)} ({err.strerror}).") from None
        raise


def write_words(words: Iterable[Word], path: str | os.PathLike, fmt: str = "tsv") -> None:
    """Write `discover`'s words to `path` atomically (see `_write_lines`), as "tsv" (header,
    then word, count, score) or "jieba" (`word count` lines).  Raises ValueError for another
    `fmt`, OSError if `path` is a directory or its folder is missing or read-only."""
    if fmt not in ("tsv", "jieba"):
        raise ValueError(f"`fmt` must be 'tsv' or 'jieba', received {fmt!r}.")
    _write_lines(_lines(words, fmt), path)


# ---------------------------------------------------------------- segmentation

# Tokens fixed by rule, on the normalised text (full-width digits are ASCII there): numbers with
# a unit of date, time, percent or ten-thousands as People's Daily writes them (1998年, 12月,
# 3.5%, 10万, 20时), dates in Chinese numerals (一九九八年, 十二月), ASCII letters, digits (H5N1).
_FIXED = re.compile(r"[0-9]{4}年|[0-9]+(?:[.:/·∶][0-9]+)*(?:%|[万亿]*(?:月份?|[日时分])?)"
                    r"|[〇○零一二三四五六七八九]{2,}年|(?:十[一二]?|[一二三四五六七八九])月"
                    r"|(?:[二三]?十[一二三四五六七八九]?|[一二三四五六七八九])日|[A-Za-z0-9]+")
_SPACE, _HAN, _LETTER, _MARK, _RULE = range(5)  # kinds of characters
_MAX_WORD = 64  # longer words are not used: the score table has a column per word length


@lru_cache(maxsize=1)
def _kind_table() -> np.ndarray:
    """table[c]: the kind of code point c (letters: of any alphabet; marks: all the rest)."""
    size = len(_word_table())
    table = np.array([_LETTER if chr(c).isalpha() else _MARK for c in range(size)], np.int8)
    table[[c for c in range(0x3001) if chr(c).isspace()]] = _SPACE
    table[_word_table() & (np.arange(size) > 127)] = _HAN
    return table


class _Lexicon(NamedTuple):
    """Words as prefix tables, keyed like the k-grams of `discover` (_Level)."""
    lut: np.ndarray  # code point -> character id, 0 for a character of no word
    base: int
    keys: list[np.ndarray]  # keys[k - 1]: sorted keys of the words' k-character prefixes
    logp: list[np.ndarray]  # logp[k - 1][rank]: log p(prefix) if it is a word, else -inf
    unknown: float  # log p of a character that is no word: as if seen once


def _lexicon(words) -> _Lexicon:
    """Prefix tables of the CJK words of (word, count) records, cached: a loop builds them once."""
    if isinstance(words, (str, bytes, os.PathLike)) or not isinstance(words, Iterable):
        raise TypeError(f"`words` must be a collection of (word, count) pairs, received "
                        f"{type(words).__name__} (read a word file first).")
    words = tuple(words)
    try:
        return _cached_lexicon(words)
    except TypeError:  # an unhashable item: the checks below name it
        return _cached_lexicon.__wrapped__(words)


@lru_cache(maxsize=4)
def _cached_lexicon(words: tuple) -> _Lexicon:
    counts, table = Counter(), _kind_table()
    for item in words:
        word, count = item[:2] if isinstance(item, tuple) and len(item) >= 2 else (item, None)
        if (not isinstance(word, str) or not word or isinstance(count, bool)
                or not isinstance(count, (int, float, np.integer, np.floating))
                or not 0 < count < np.inf):
            raise ValueError(f"`words` must hold (word, count > 0) pairs, received {item!r}.")
        if len(word) <= _MAX_WORD and all(ord(c) < len(table) and table[ord(c)] == _HAN
                                          for c in word):
            counts[word] += float(count)  # other words are left to the rules
    if not counts:
        raise ValueError("`words` must hold a word of CJK characters, received none.")
    chars = sorted({c for w in counts for c in w})
    ids = {c: i for i, c in enumerate(chars, 1)}
    lut = np.zeros(ord(chars[-1]) + 1, np.int64)
    lut[[ord(c) for c in chars]] = np.arange(1, len(chars) + 1)
    total, keys, logp, rank = sum(counts.values()), [], [], {"": 0}
    for k in range(1, max(map(len, counts)) + 1):
        key = {p: rank[p[:-1]] * (len(chars) + 1) + ids[p[-1]]
               for p in {w[:k] for w in counts if len(w) >= k}}
        prefixes = sorted(key, key=key.get)
        rank = {p: r for r, p in enumerate(prefixes)}
        keys.append(np.array([key[p] for p in prefixes], np.int64))
        logp.append(np.array([np.log(counts[p] / total) if p in counts else -np.inf
                              for p in prefixes]))
    unknown = np.log(min(1.0, min(counts.values())) / total)  # 1 as in jieba, if no count is less
    return _Lexicon(lut, len(chars) + 1, keys, logp, float(unknown))


def _word_scores(cp: np.ndarray, han: np.ndarray, lex: _Lexicon) -> np.ndarray:
    """scores[i, k - 1] = log p of the k-character word at i (-inf: none); a CJK character is
    always a word, an unknown one if the lexicon lacks it."""
    n, longest = len(cp), len(lex.keys)
    ids = np.zeros(n + longest, np.int64)  # 0 past the end: no word passes it
    ids[:n] = np.where(han, lex.lut[np.minimum(cp, len(lex.lut) - 1)], 0) * (cp < len(lex.lut))
    scores = np.full((n, longest), -np.inf)  # (position, word length - 1)
    at, rank = np.flatnonzero(ids), np.zeros(np.count_nonzero(ids), np.int64)
    for k in range(1, longest + 1):  # extend the prefixes that start at `at` by a character
        rank = _lookup(lex.keys[k - 1], rank * lex.base + ids[at + k - 1], ids[at + k - 1] > 0)
        at, rank = at[rank >= 0], rank[rank >= 0]
        scores[at, k - 1] = lex.logp[k - 1][rank]
    scores[han & (scores[:, 0] == -np.inf), 0] = lex.unknown
    return scores


def _best_starts(scores: np.ndarray, han: np.ndarray) -> np.ndarray:
    """Word starts of the most probable split of every CJK run: best[i] = max over k of
    scores[i, k - 1] + best[i + k] (0 at the run's end), the log probability of the best split
    from i on.  Positions as far from their run's end do not depend on each other: they are
    solved together, nearest to the end first.  Ties go to the longer word, as in jieba."""
    n, longest = scores.shape
    run_end = np.minimum.accumulate(np.where(han, n, np.arange(n))[::-1])[::-1]
    pos = np.flatnonzero(han)
    dist = run_end[pos] - pos  # 1 for the last character of a run
    by_dist, edges = pos[np.argsort(dist, kind="stable")], np.cumsum(np.bincount(dist))
    best, step = np.zeros(n + longest + 1), np.ones(n + 1, np.int64)
    for d in range(1, len(edges)):
        p = by_dist[edges[d - 1]:edges[d], None]  # (positions, 1)
        lengths = np.arange(min(d, longest), 0, -1)  # longest first: argmax ties go to it
        cand = scores[p, lengths - 1] + best[p + lengths]  # (positions, lengths)
        choice = cand.argmax(1)
        step[p[:, 0]], best[p[:, 0]] = lengths[choice], cand[np.arange(len(p)), choice]
    starts, inside = np.zeros(n + 1, bool), np.r_[han, False]
    cur = np.flatnonzero(han & ~np.r_[False, han[:-1]])  # the runs' first characters
    while len(cur):  # follow the best steps through every run at once
        starts[cur] = True
        cur = cur + step[cur]
        cur = cur[inside[cur]]
    return starts[:n]


def _cut(text: str, lex: _Lexicon, newlines: bool = False) -> list[str]:
    """Tokens of `text`; whitespace is dropped (newlines: kept as its line breaks)."""
    cp = _code_points(text)[0]  # normalised, one per character of `text`
    norm = cp.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    kind = _kind_table()[np.minimum(cp, len(_kind_table()) - 1)]
    ruled = [m.span() for m in _FIXED.finditer(norm)]
    for a, b in ruled:
        kind[a:b] = _RULE
    han = kind == _HAN
    starts = np.ones(len(cp) + 1, bool)  # a token starts where the kind changes, at a mark
    starts[1:-1] = (kind[1:] != kind[:-1]) | ((kind[1:] == _MARK) & (cp[1:] != cp[:-1]))
    starts[[a for a, _ in ruled]] = True  # that does not repeat the last, at each rule match
    if han.any():  # and where the best split of the CJK runs says
        starts[:-1] |= _best_starts(_word_scores(cp, han, lex), han)
    bounds, tokens = np.flatnonzero(starts).tolist(), []
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        if kind[a] != _SPACE:
            tokens.append(text[a:b])
        elif newlines and "\n" in text[a:b]:
            tokens.append("\n" * text.count("\n", a, b))
    return tokens


def _blocks_at_breaks(item, size: int) -> Iterator[str]:
    """Blocks of a source item cut after a line break, space, stop or comma: no token spans two."""
    pending = ""
    for block in _blocks(item, size):
        cut = max(block.rfind(c) for c in "\n \u3000。，！？；") + 1
        if cut:
            yield pending + block[:cut]
            pending = block[cut:]
        else:
            pending += block
    yield pending


def segment(text: str, words: Iterable[Word] | Iterable[tuple[str, float]]) -> list[str]:
    """Split a text into its most probable words under a unigram model of `words`.

    Runs of CJK characters are split into words of up to 64 CJK characters with the highest
    product of p(word) = count / total (jieba without its HMM; a character that is no word
    counts 1, or the least count).  Numbers and dates (1998年, 3.5%, 一九九八年), runs of
    letters or of ASCII letters and digits (H5N1) and of one punctuation mark are tokens.

    Args:
        text: the text to split, of any length.
        words: the result of `discover`, or (word, count) pairs with counts > 0.

    Returns the tokens in the characters of `text` (full-width forms stay full-width).  Raises
    TypeError if `text` is not a str or `words` no collection, ValueError if `words` holds an
    item that is not a (word, count > 0) pair, or no CJK word.
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str, received {type(text).__name__}.")
    lex = _lexicon(words)
    return [t for block in _blocks_at_breaks(text, 1 << 16) for t in _cut(block, lex)]


def _segmented_lines(source: list, lex: _Lexicon) -> Iterator[str]:
    """Lines of space-separated tokens of the source items, line for line."""
    for item in source:
        line = []
        for token in (t for b in _blocks_at_breaks(item, 1 << 16)
                      for t in _cut(b, lex, newlines=True)):
            if token[0] == "\n":
                yield " ".join(line) + token
                line = []
            else:
                line.append(token)
        if line:
            yield " ".join(line) + "\n"


# ---------------------------------------------------------------- demo and CLI

def _demo() -> list[Word]:
    """Words of a corpus generated from 8 two-character words and 3 particles: they come back."""
    rng = np.random.default_rng(0)
    vocab = ["各项", "项目", "工作", "我们", "发展", "经济", "建设", "人民", "的", "了", "在"]
    words = rng.choice(vocab, size=4000, p=[.1, .1, .1, .1, .1, .1, .1, .1, .1, .05, .05])
    text = "".join(w + ("，" if i % 7 == 6 else "") for i, w in enumerate(words))
    return discover(text, min_count=5)


def _top_words(words: list[Word], n: int = 20) -> str:
    """The n most frequent multi-character words, for the end of a run."""
    top = [f"{w.word} {w.count}" for w in words if len(w.word) > 1][:n]
    return f"top {len(top)} multi-character words (count): " + ", ".join(top)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Unsupervised Chinese new-word discovery (cohesion + re-segmentation).",
        epilog="example: python new_words.py corpus.txt -o words.tsv --segment corpus.seg.txt; "
        "to keep only new words, drop the rows of your dictionary's words from words.tsv")
    add = parser.add_argument
    add("corpus", nargs="*", type=Path, help="UTF-8 text files, read order + 1 times (not stdin)")
    add("-o", "--out", help="output file (default: standard output)")
    add("--segment", metavar="OUT", help="also write the corpus split into the words found, "
        "tokens separated by spaces, line for line")
    add("--min-count", type=int, default=8, help="minimum count of n-grams and words (8)")
    add("--order", type=int, default=4, help=f"longest n-gram, 2..{_MAX_ORDER} (4)")
    add("--thresholds", help="log-cohesion thresholds for lengths 2..order (2,4,6)")
    add("--format", choices=("tsv", "jieba"), default="tsv",
        help="tsv: header + word, count, log cohesion; jieba: `word count`")
    add("--demo", action="store_true", help="run on a small generated corpus")
    return parser


def _run(args: argparse.Namespace) -> None:
    """The CLI's work; every argument and output is checked before the corpus is read."""
    try:
        thresholds = args.thresholds and [float(t) for t in args.thresholds.split(",")]
    except ValueError:
        raise ValueError(f"`--thresholds` must be comma-separated numbers, received "
                         f"{args.thresholds!r}.") from None
    inputs = list(args.corpus)
    for name, path in (("--out", args.out), ("--segment", args.segment)):
        if path:
            _check_output(path, name, inputs)
            inputs.append(path)  # --out and --segment must differ too
    words = discover(args.corpus, args.min_count, args.order, thresholds)
    if args.segment:
        try:
            lex = _lexicon(words)
        except ValueError:
            raise ValueError("`--segment` needs words of CJK characters, received none "
                             "from this corpus; lower --min-count or --thresholds.") from None
        _write_lines(_segmented_lines(args.corpus, lex), args.segment, "--segment")
    if args.out:
        _write_lines(_lines(words, args.format), args.out, "--out")
        print(_top_words(words))
    else:
        sys.stdout.writelines(_lines(words, args.format))


def main(argv: list[str] | None = None) -> int:
    """Command line: discover the words of CORPUS files and (--segment) split it into them."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.demo:
        words = _demo()
        sys.stdout.writelines(_lines(words, "tsv"))
        print(_top_words(words), file=sys.stderr)
        return 0
    if not args.corpus:  # exits with status 2
        parser.error("give one or more CORPUS files (there is no default corpus)")
    in_main = threading.current_thread() is threading.main_thread()
    def on_sigterm(signum, frame):  # SystemExit runs the cleanup: no stray temp file
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main else None
    try:
        _run(args)
    except (OSError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
