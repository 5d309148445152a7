"""Benchmark: synchronous bidirectional decoding vs unidirectional decoders (CMUdict, carry2).

Task: pronounce phrases of 3 unseen words (letters -> ARPAbet phones, `_` between words); words
are split train/dev/test by a hash, so test words never occur in training. Per seed we train,
with equal steps and beam settings and from the same code path:

  L2R, R2L           unidirectional models, decoder widened to the bidirectional parameter count
  two-model          L2R and R2L outputs, keep the one with the higher normalised beam score
  bidir-gold         the published recipe: both decoders read the other's gold prefix (leaky)
  bidir-pseudo-*     each decoder reads the other direction's pseudo outputs (SB-NMT): the greedy
                     decodes of the training sources by this seed's R2L / L2R models; fusions
                     concat and sbnmt; decoded with the all-pairs and the split-beam searches

Run:  python bench/bidir_seq2seq.py [--seeds 3] [--train 20000] [--epochs 4] [--test 1000]
      (or one process per seed: --only-seed N, then --merge to print the table;
      --variant self|shared --only-seed N adds the bidirectional models trained on their own
      pseudo outputs, with two decoders or one shared decoder, for seed N)
Requires the `cmudict` package (data only).

carry2 (`--task carry2`, built-in synthetic data, see `bidir_seq2seq.carry2`): per layout and
seed, L2R and R2L models matched to the bidirectional parameter count, two-model (higher score),
oracle-either (right if either unidirectional model is right: the ceiling of any selector),
the bidirectional model with two decoders and with one shared decoder (pseudo="self", the
library default) and the leaky gold recipe; exact and per-half exact, which direction the
bidirectional search returned, training wall-clock, paired bootstrap against oracle-either.

    python bench/bidir_seq2seq.py --task carry2 --digits 3 --p9 0.6 --seeds 2 --epochs 10
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _data import (  # noqa: E402
    cmudict_path,
    matched_unidirectional_config,
    phoneme_error_rate,
    phrase_task,
    position_accuracy,
    read_cmudict,
    with_parameter_count,
)

import bidir_seq2seq as bs  # noqa: E402


def scores(hyps, refs):
    """Per-item exact match plus the aggregate metrics."""
    em = np.array([h == r for h, r in zip(hyps, refs, strict=True)], float)
    # word exact match: the k-th word of the output against the k-th reference word
    words = [(h_w == r_w) for h, r in zip(hyps, refs, strict=True)
             for h_w, r_w in zip(_words(h, len(_words(r))), _words(r), strict=False)]
    return em, {"exact": 100 * em.mean(), "word_exact": 100 * np.mean(words),
                "per": 100 * phoneme_error_rate(hyps, refs),
                "first4": 100 * position_accuracy(hyps, refs, 4),
                "last4": 100 * position_accuracy(hyps, refs, 4, from_end=True)}


def _words(seq, n=None):
    out, cur = [], []
    for s in seq:
        if s == "_":
            out.append(cur)
            cur = []
        else:
            cur.append(s)
    out.append(cur)
    return out + [[]] * ((n or 0) - len(out))


def length_bins(refs):
    lens = np.array([len(r) for r in refs])
    cuts = np.percentile(lens, [33.3, 66.7])
    return np.digitize(lens, cuts), [f"<={cuts[0]:.0f}", f"{cuts[0]:.0f}-{cuts[1]:.0f}",
                                     f">{cuts[1]:.0f}"]


def paired_bootstrap(a, b, n=10000, seed=0):
    """a, b: (seeds, items) 0/1 exact-match arrays of two systems on the same items.
    Resamples items (the same for every seed); returns the mean difference a-b in points,
    its 95% interval and the share of resamples with a-b <= 0."""
    rng = np.random.default_rng(seed)
    diff = (a - b).mean(axis=0)
    boot = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    return 100 * diff.mean(), 100 * np.percentile(boot, 2.5), 100 * np.percentile(boot, 97.5), \
        float((boot <= 0).mean())


def train(config, x, y, epochs, batch, pseudo=None):
    model = bs.compile_seq2seq(bs.build_seq2seq(config))
    t0 = time.time()
    logs = bs.fit_seq2seq(model, x, y, epochs=epochs, batch_size=batch,
                          **({} if pseudo is None else {"pseudo": pseudo}))
    return model, logs[-1]["loss"], time.time() - t0


def run_seed(seed, args, data, vocabs, log):
    sv, tv = vocabs
    (tr_src, tr_tgt), (te_src, te_tgt) = data["train"], data["test"]
    x, y, xt = sv.encode_batch(tr_src), tv.encode_all(tr_tgt), sv.encode_batch(te_src)
    y_rev = [t[::-1] for t in y]
    bidir_cfg = bs.Seq2SeqConfig(len(sv), len(tv), units=args.units, fusion="concat")
    uni_cfg = matched_unidirectional_config(bs, bidir_cfg)
    sb_cfg = bs.Seq2SeqConfig(len(sv), len(tv), units=args.units, fusion="sbnmt")
    beam, ml, alpha = args.beam, args.max_len, 0.6
    out, rows = {}, {}

    def record(name, ids, sc, model, loss, secs, dsecs):
        hyps = [tv.decode(s + [bs.EOS]) for s in ids]
        _, m = scores(hyps, te_tgt)
        rows[name] = {**m, "params": model.count_params() if model else None, "train_loss": loss,
                      "train_s": secs, "decode_seq_per_s": len(ids) / dsecs if dsecs else None}
        out[name] = (hyps, sc)
        log(f"seed {seed} {name:22s} " + " ".join(f"{k}={v:.4g}" for k, v in rows[name].items()
                                                  if isinstance(v, float)))

    if args.variant != "main":  # pseudo outputs decoded by the model itself (library default)
        n_params = bs.build_seq2seq(bidir_cfg).count_params()
        systems = {"self": [("bidir-self-concat", bidir_cfg)],
                   "shared": [(f"bidir-shared-self-{f}", with_parameter_count(
                       bs, dataclasses.replace(bidir_cfg, fusion=f, shared_decoder=True), n_params))
                       for f in ("concat", "sbnmt")]}[args.variant]
        for name, cfg in systems:
            keras.utils.set_random_seed(seed)
            model, loss, secs = train(cfg, x, y, args.epochs, args.batch, "self")
            for pairing in ("all", "rank"):
                t0 = time.time()
                ids, sc = bs.bidirectional_beam_search(model, xt, beam, ml, alpha, pairing)
                record(f"{name}/{pairing}", ids, sc, model, loss, secs, time.time() - t0)
        return {k: v[0] for k, v in out.items()}, rows
    for name, data_y in (("L2R", y), ("R2L", y_rev)):
        keras.utils.set_random_seed(seed)
        model, loss, secs = train(uni_cfg, x, data_y, args.epochs, args.batch)
        t0 = time.time()
        ids, sc = bs.beam_search(model, xt, beam, ml, alpha)
        dsecs = time.time() - t0
        ids = ids if name == "L2R" else [s[::-1] for s in ids]
        record(name, ids, sc, model, loss, secs, dsecs)
        # pseudo outputs for the bidirectional models: greedy decodes of the training sources
        t0 = time.time()
        pseudo, _ = bs.greedy_decode(model, x, ml)
        out[name + "_pseudo"] = pseudo if name == "L2R" else [s[::-1] for s in pseudo]
        log(f"seed {seed} {name} pseudo decode of {len(x)} sources: {time.time() - t0:.0f}s")
    pick = [a if out["L2R"][1][i] >= out["R2L"][1][i] else b for i, (a, b) in
            enumerate(zip(out["L2R"][0], out["R2L"][0], strict=True))]
    record("two-model", [tv.encode(p) if p else [] for p in pick], None, None, None, 0, 0)
    pseudo = (out["L2R_pseudo"], out["R2L_pseudo"])
    for name, cfg, mode in (("bidir-gold-concat", bidir_cfg, "gold"),
                            ("bidir-pseudo-concat", bidir_cfg, pseudo),
                            ("bidir-pseudo-sbnmt", sb_cfg, pseudo)):
        keras.utils.set_random_seed(seed)
        model, loss, secs = train(cfg, x, y, args.epochs, args.batch, mode)
        for pairing in ("all", "rank"):
            t0 = time.time()
            ids, sc = bs.bidirectional_beam_search(model, xt, beam, ml, alpha, pairing)
            record(f"{name}/{pairing}", ids, sc, model, loss, secs, time.time() - t0)
    return {k: v[0] for k, v in out.items() if not k.endswith("_pseudo")}, rows


def report(all_hyps, all_rows, te_tgt, args):
    all_em = [{n: scores(h, te_tgt)[0] for n, h in hyps.items()} for hyps in all_hyps]
    names = list(dict.fromkeys(n for rows in all_rows for n in rows))
    lines = [f"words={args.words} seeds={len(all_rows)} train={args.train} epochs={args.epochs} "
             f"batch={args.batch} test={args.test} beam={args.beam} units={args.units}", "",
             "| system | params | train loss | exact % | word exact % | PER % | first-4 % | "
             "last-4 % | decode seq/s |", "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        r = [row[n] for row in all_rows if n in row]

        def ms(k, r=r):
            v = [x[k] for x in r if x[k] is not None]
            return f"{np.mean(v):.2f} ± {np.std(v):.2f}" if v else "-"
        lines.append(f"| {n} ({len(r)} seeds) | {r[0]['params'] or '2 x uni'} | "
                     f"{ms('train_loss')} | "
                     f"{ms('exact')} | {ms('word_exact')} | {ms('per')} | {ms('first4')} | "
                     f"{ms('last4')} | {ms('decode_seq_per_s')} |")
    bins, labels = length_bins(te_tgt)
    lines += ["", "Exact match % by reference length (phones incl. separators), mean of seeds:",
              "", "| system | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for n in names:
        em = np.stack([e[n] for e in all_em if n in e])
        lines.append(f"| {n} | " + " | ".join(f"{100 * em[:, bins == b].mean():.1f}"
                                              for b in range(len(labels))) + " |")
    lines += ["", "First-4 / last-4 position accuracy % by reference length, mean of seeds:", "",
              "| system | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for n in names:
        cells = []
        for b in range(len(labels)):
            refs = [r for r, k in zip(te_tgt, bins, strict=True) if k == b]
            runs = [[h for h, k in zip(hyps[n], bins, strict=True) if k == b]
                    for hyps in all_hyps if n in hyps]
            first, last = (np.mean([100 * position_accuracy(h, refs, 4, from_end=e)
                                    for h in runs]) for e in (False, True))
            cells.append(f"{first:.1f} / {last:.1f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Paired bootstrap on exact match (items resampled, seeds averaged), "
              "difference in points [95% interval], P(diff <= 0):", ""]
    for a in [n for n in names if n.startswith("bidir")]:
        for b in ("L2R", "R2L", "two-model"):
            both = [e for e in all_em if a in e and b in e]
            if not both:  # e.g. a --variant run merged without its baselines
                continue
            d, lo, hi, p = paired_bootstrap(np.stack([e[a] for e in both]),
                                            np.stack([e[b] for e in both]))
            lines.append(f"- {a} - {b}: {d:+.2f} [{lo:+.2f}, {hi:+.2f}], P={p:.3f}")
    return "\n".join(lines)


def words_arg(text):
    """--words as an int in [1, 20]: longer phrases would only make minutes of useless work."""
    value = int(text)
    if not 1 <= value <= 20:
        raise argparse.ArgumentTypeError(f"must be in [1, 20], received {value}")
    return value


def carry2_bench(args):
    """The carry2 table (see the module docstring); one row per system and layout."""
    lines = [f"carry2 digits={args.digits} p9={args.p9} train={args.train} test={args.test} "
             f"epochs={args.epochs} batch={args.batch} beam={args.beam} units={args.units} "
             f"seeds={args.seeds}", "",
             "| layout | system | params | train s | exact % | half 1 % | half 2 % | "
             "R2L answers % |", "|---|---|---|---|---|---|---|---|"]
    ml = 2 * args.digits + 3
    start = time.time()
    boot = []
    for layout in args.layouts.split(","):
        (src, tgt), (te_src, te_tgt) = bs.carry2(args.train, args.test, args.digits, args.p9,
                                                 layout, seed=0)
        sv, tv = bs.Vocab.fit(src), bs.Vocab.fit(tgt)
        x, y, xt = sv.encode_batch(src), tv.encode_all(tgt), sv.encode_batch(te_src)
        bidir_cfg = bs.Seq2SeqConfig(len(sv), len(tv), units=args.units)
        n_params = bs.build_seq2seq(bidir_cfg).count_params()
        uni_cfg = matched_unidirectional_config(bs, bidir_cfg)
        shared_cfg = with_parameter_count(
            bs, dataclasses.replace(bidir_cfg, shared_decoder=True), n_params)
        rows = {}  # name -> list over seeds of (exact array, half1, half2, r2l share, secs, params)

        def record(name, hyps, secs, params, r2l_share=None, te_tgt=te_tgt, rows=rows,
                   layout=layout):
            h1 = np.array([h[:args.digits + 1] == r[:args.digits + 1]
                           for h, r in zip(hyps, te_tgt, strict=True)], float)
            h2 = np.array([h[args.digits + 1:] == r[args.digits + 1:]
                           for h, r in zip(hyps, te_tgt, strict=True)], float)
            em = np.array([h == r for h, r in zip(hyps, te_tgt, strict=True)], float)
            rows.setdefault(name, []).append((em, h1, h2, r2l_share, secs, params))
            print(f"[{time.time() - start:6.0f}s] {layout} {name}: exact {100 * em.mean():.1f} "
                  f"halves {100 * h1.mean():.1f}/{100 * h2.mean():.1f} ({secs:.0f} s)",
                  flush=True)

        for seed in range(args.seeds):
            uni = {}
            for name, data_y in (("L2R", y), ("R2L", [t[::-1] for t in y])):
                keras.utils.set_random_seed(seed)
                model, _, secs = train(uni_cfg, x, data_y, args.epochs, args.batch)
                ids, sc = bs.beam_search(model, xt, args.beam, ml)
                hyps = [tv.decode(s if name == "L2R" else s[::-1]) for s in ids]
                uni[name] = (hyps, sc)
                record(name, hyps, secs, model.count_params())
            pick = [a if sa >= sb else b for a, b, sa, sb in
                    zip(uni["L2R"][0], uni["R2L"][0], uni["L2R"][1], uni["R2L"][1], strict=True)]
            record("two-model", pick, 0, None)
            either = [r if r in (a, b) else a for a, b, r in
                      zip(uni["L2R"][0], uni["R2L"][0], te_tgt, strict=True)]
            record("oracle-either", either, 0, None)
            for name, cfg, mode in (("bidir-split-self", bidir_cfg, "self"),
                                    ("bidir-shared-self", shared_cfg, "self"),
                                    ("bidir-shared-gold", shared_cfg, "gold")):
                keras.utils.set_random_seed(seed)
                model, _, secs = train(cfg, x, y, args.epochs, args.batch, mode)
                ids, _, (l2r, _) = bs._bidir_search(model, xt, args.beam, ml, 0.6, "all", 256)
                hyps = [tv.decode(s) for s in ids]
                r2l = np.mean([a != b for a, b in zip(ids, l2r, strict=True)])
                record(name, hyps, secs, model.count_params(), r2l)
        for name, runs in rows.items():
            em, h1, h2, r2l, secs, params = zip(*runs, strict=True)

            def ms(v):
                v = [100 * np.mean(a) for a in v]
                return f"{np.mean(v):.1f} ± {np.std(v):.1f}"
            share = "-" if r2l[0] is None else f"{100 * np.mean(r2l):.0f}"
            lines.append(f"| {layout} | {name} | {params[0] or '-'} | {np.mean(secs):.0f} | "
                         f"{ms(em)} | {ms(h1)} | {ms(h2)} | {share} |")
        for a in [n for n in rows if n.startswith("bidir")]:
            for b in ("L2R", "oracle-either"):
                ea, eb = (np.stack([r[0] for r in rows[n]]) for n in (a, b))
                d, lo, hi, pr = paired_bootstrap(ea, eb)
                wins = int(sum(x.mean() > z.mean() for x, z in zip(ea, eb, strict=True)))
                boot.append(f"- {layout}: {a} - {b}: {d:+.1f} [{lo:+.1f}, {hi:+.1f}], "
                            f"P(diff <= 0)={pr:.3f}, seeds won {wins}/{len(ea)}")
    table = "\n".join(lines + ["", "Paired bootstrap on exact match (points, 95% interval):",
                               ""] + boot)
    print(table, flush=True)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--task", choices=["cmudict", "carry2"], default="cmudict")
    p.add_argument("--words", type=words_arg, default=3, help="words per phrase, 1-20 (default 3)")
    p.add_argument("--digits", type=int, default=3, help="carry2 operand digits")
    p.add_argument("--p9", type=float, default=0.6, help="carry2 share of digit pairs summing to 9")
    p.add_argument("--layouts", default="converge,diverge", help="carry2 layouts, comma-separated")
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--max-len", type=int, default=40)
    p.add_argument("--out", default=None, help="also write the table to this file")
    p.add_argument("--only-seed", type=int, default=None,
                   help="run one seed and save it as JSON in --save-dir (for parallel runs)")
    p.add_argument("--save-dir", default="bench_out", help="per-seed JSON files go here")
    p.add_argument("--merge", action="store_true", help="report the seeds found in --save-dir")
    p.add_argument("--variant", choices=["main", "self", "shared"], default="main",
                   help="main: the systems above; self: the bidirectional model trained on its "
                        "own pseudo outputs (pseudo='self', the library default); shared: the "
                        "same with one decoder shared by both directions (both fusions). "
                        "Saved as <variant>N.json and merged next to mainN.json")
    args = p.parse_args()
    if args.task == "carry2":
        return carry2_bench(args)
    lexicon = read_cmudict(cmudict_path())
    data = phrase_task(lexicon, {"train": args.train, "test": args.test}, args.words, seed=0)
    vocabs = bs.Vocab.fit(data["train"][0]), bs.Vocab.fit(data["train"][1])
    start = time.time()

    def log(msg):
        print(f"[{time.time() - start:6.0f}s] {msg}", flush=True)
    save = Path(args.save_dir)
    if args.merge:
        files = sorted(save.glob("main*.json"))
        runs = [json.loads(f.read_text()) for f in files]
        for f, run in zip(files, runs, strict=True):  # add the other variants of the same seed
            for extra in (save / f"{v}{f.stem[4:]}.json" for v in ("self", "shared")):
                if not extra.exists():
                    continue
                more = json.loads(extra.read_text())
                run["hyps"].update(more["hyps"])
                run["rows"].update(more["rows"])
        table = report([r["hyps"] for r in runs], [r["rows"] for r in runs], data["test"][1],
                       args)
    else:
        all_hyps, all_rows = [], []
        seeds = range(args.seeds) if args.only_seed is None else [args.only_seed]
        for seed in seeds:
            hyps, rows = run_seed(seed, args, data, vocabs, log)
            all_hyps.append(hyps)
            all_rows.append(rows)
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{args.variant}{seed}.json").write_text(json.dumps(
                {"seed": seed, "hyps": hyps, "rows": rows}))
        table = report(all_hyps, all_rows, data["test"][1], args)
        log("done")
    print(table, flush=True)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
