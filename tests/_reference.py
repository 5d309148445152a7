"""Independent reference implementations shared by tests/ and bench/ (one copy of each).

Each section belongs to one library file; the code here never imports that library file's
internals it checks. Benchmarks reach this module by putting tests/ on sys.path.
"""

# ----------------------------------------------------------------------------- new_words

import math  # noqa: E402
import re  # noqa: E402
from collections import Counter  # noqa: E402

NEW_WORDS_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# one "piece" = a run of CJK ideographs, ASCII letters and ASCII digits
NEW_WORDS_PIECE = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                             "\U00020000-\U000323afA-Za-z0-9]+")


def new_words_reference(text, min_count=8, order=4, thresholds=None, raw=None):
    """new_words.discover with plain dicts and a per-gap loop. Returns sorted (word, count,
    score) tuples; `raw` (a Counter) gets the segment counts."""
    thresholds = thresholds or [2 * (k - 1) for k in range(2, order + 1)]
    pieces = NEW_WORDS_PIECE.findall(text.translate(NEW_WORDS_FULL_WIDTH))
    ngrams = Counter()
    for p in pieces:
        for k in range(1, order + 1):
            for i in range(len(p) - k + 1):
                ngrams[p[i:i + k]] += 1
    total = sum(c for w, c in ngrams.items() if len(w) == 1)
    ngrams = {w: c for w, c in ngrams.items() if c >= min_count}
    score = {w: math.log(min(c * total / (ngrams[w[:j]] * ngrams[w[j:]])
                             for j in range(1, len(w))))
             for w, c in ngrams.items() if len(w) > 1}
    good = {w for w, s in score.items() if s >= thresholds[len(w) - 2]}
    segments = Counter()
    for p in pieces:
        start = 0
        for gap in range(1, len(p)):  # the gap between p[gap - 1] and p[gap]
            spanned = any(p[s:s + k] in good for k in range(2, order + 1)
                          for s in range(max(0, gap - k + 1), min(gap, len(p) - k + 1)))
            if not spanned:
                segments[p[start:gap]] += 1
                start = gap
        if p:
            segments[p[start:]] += 1
    if raw is not None:
        raw.update(segments)
    words = []
    for w, c in segments.items():
        if c < min_count or (3 <= len(w) <= order and w not in good):
            continue
        if len(w) > order and any(w[i:i + order] not in good
                                  for i in range(len(w) - order + 1)):
            continue
        words.append((w, c, score[w] if 2 <= len(w) <= order else None))
    return sorted(words, key=lambda w: (-w[1], w[0]))


def new_words_best_splits(run, logp, unknown):
    """All most probable splits of one run of CJK characters under a unigram model, by brute
    force over the 2^(n-1) ways to cut it: (best log probability, list of best splits).
    `logp` maps words to log probabilities; a single character not in it scores `unknown`."""
    best, splits = -math.inf, []
    for cuts in range(2 ** (len(run) - 1)):
        bounds = [0] + [i + 1 for i in range(len(run) - 1) if cuts >> i & 1] + [len(run)]
        words = [run[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
        if any(len(w) > 1 and w not in logp for w in words):
            continue
        score = sum(logp.get(w, unknown) for w in words)
        if score > best + 1e-9:
            best, splits = score, [words]
        elif score > best - 1e-9:
            splits.append(words)
    return best, splits


def new_words_span_f1(gold, predicted):
    """Word-level precision, recall and F1 with the standard span scoring: a predicted word is
    right iff a gold word has the same start and end. Both are lists of token lists, line for
    line, over the same characters."""
    right = n_gold = n_predicted = 0
    for gold_line, line in zip(gold, predicted, strict=True):
        assert "".join(gold_line) == "".join(line), (gold_line, line)
        spans = []
        for tokens in (gold_line, line):
            ends = [0]
            for t in tokens:
                ends.append(ends[-1] + len(t))
            spans.append(set(zip(ends[:-1], ends[1:], strict=False)))
        right += len(spans[0] & spans[1])
        n_gold, n_predicted = n_gold + len(spans[0]), n_predicted + len(spans[1])
    precision, recall = right / n_predicted, right / n_gold
    return precision, recall, 2 * precision * recall / (precision + recall)


# ----------------------------------------------------------------------------- vqvae

def vqvae_pca_quantised_mse(train, test, bits):
    """Same-bit baseline for an image code: PCA fitted on `train`, each of m coefficients
    quantised uniformly with b bits over its training range (m = bits // b), decoded back;
    returns the mean squared error on `test` for the best b in 1..16 (chosen on the test set:
    generous to PCA). Float64 throughout."""
    import numpy as np
    x = train.reshape(len(train), -1).astype(np.float64)
    y = test.reshape(len(test), -1).astype(np.float64)
    mean = x.mean(0)
    basis = np.linalg.svd(x - mean, full_matrices=False)[2]
    best = np.inf
    for b in range(1, 17):
        m = min(int(bits) // b, len(basis))
        if m == 0:
            break
        coef_train, coef = (x - mean) @ basis[:m].T, (y - mean) @ basis[:m].T
        low, high = coef_train.min(0), coef_train.max(0)
        step = (high - low) / 2**b
        index = np.clip(np.floor((coef - low) / step), 0, 2**b - 1)
        recon = (low + (index + 0.5) * step) @ basis[:m] + mean
        best = min(best, float(np.mean((recon - y) ** 2)))
    return best


# ----------------------------------------------------------------------------- bidir_seq2seq


def teacher_forced_log_prob(model, src_ids, tgt_seqs, other=None, pad=0, bos=2, eos=3):
    """``log p(y + EOS | x)`` of each target from one full teacher-forced pass (no cache).

    The decoder inputs are built here from the documented layout: L2R reads ``BOS + y`` and
    predicts ``y + EOS``; R2L reads ``EOS + reversed(y)`` and predicts ``reversed(y) + EOS``.
    A bidirectional model (5 inputs) reads `other` = (l2r_seqs, r2l_seqs in reading order) as
    the other direction's input (default: the gold targets) and gives (n, 2) log-probs.
    """
    import numpy as np
    from keras import ops

    def pad_rows(rows):
        out = np.full((len(rows), max(len(r) for r in rows)), pad, dtype="int32")
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out

    def teacher(seqs, reverse):
        seqs = [list(s)[::-1] if reverse else list(s) for s in seqs]
        start = eos if reverse else bos
        return pad_rows([[start] + s for s in seqs]), pad_rows([s + [eos] for s in seqs])

    l_in, l_out = teacher(tgt_seqs, False)
    if len(model.inputs) == 2:
        outs, targets = [model([src_ids, l_in], training=False)], [l_out]
    else:
        r_in, r_out = teacher(tgt_seqs, True)
        l_other, r_other = (l_in, r_in) if other is None else (
            teacher(other[0], False)[0], teacher(other[1], True)[0])
        outs = model([src_ids, l_in, r_in, l_other, r_other], training=False)
        targets = [l_out, r_out]
    cols = []
    for logits, target in zip(outs, targets, strict=True):
        logp = ops.convert_to_numpy(ops.log_softmax(logits, axis=-1)).astype("float64")
        picked = np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
        cols.append((picked * (target != pad)).sum(axis=1))
    return np.stack(cols, axis=1) if len(cols) == 2 else cols[0]


# ----------------------------------------------------------------------------- bert4keras
