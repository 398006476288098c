"""The encoder, the siamese tied-weight model, the losses and the pair samplers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstm_rnn_correlation.losses import ContrastiveLoss, SigmoidPairLoss, SupConLoss, pair_targets
from lstm_rnn_correlation.model import AlertEncoder, EncoderConfig, HeadConfig, SiameseModel
from lstm_rnn_correlation.pairs import PairPermutation, incident_batches, paper_pair_batches
from lstm_rnn_correlation.text import encode_alerts

ALERTS = [
    "[1:2008581:3] ET P2P BitTorrent DHT ping {UDP} 192.168.1.20:6881 -> 8.8.8.8:53",
    "[120:3:1] (http_inspect) NO CONTENT-LENGTH {TCP} 94.63.149.152:80 -> 192.168.1.20:1040",
    "short",
    "[1:2100366:8] GPL ICMP_INFO PING *NIX {ICMP} 10.0.0.7 -> 82.12.3.169",
]

ENCODERS = {
    "paper": EncoderConfig(units=(10,), input="onehot", pooling="last"),
    "default": EncoderConfig(units=(16,), input="embedding", embedding_dim=8, pooling="mean"),
    "stacked": EncoderConfig(units=(12, 6), input="embedding", embedding_dim=8, pooling="last"),
    "bidirectional": EncoderConfig(units=(8,), input="embedding", embedding_dim=8, pooling="last", bidirectional=True),
    "bidirectional-mean": EncoderConfig(units=(8,), input="onehot", pooling="mean", bidirectional=True),
    "max": EncoderConfig(units=(8,), input="embedding", embedding_dim=8, pooling="max"),
    "meanmax": EncoderConfig(units=(8,), input="embedding", embedding_dim=8, pooling="meanmax"),
}


def encoder(config: EncoderConfig, seed: int = 0) -> AlertEncoder:
    torch.manual_seed(seed)
    return AlertEncoder(config).eval()


def vectors(enc: AlertEncoder, alerts, indices=None) -> torch.Tensor:
    data = encode_alerts(alerts)
    codes, lengths = data.batch(range(len(alerts)) if indices is None else indices)
    with torch.no_grad():
        return enc(codes, lengths)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_padding_never_changes_a_vector(name):
    enc = encoder(ENCODERS[name])
    alone = torch.cat([vectors(enc, [a]) for a in ALERTS])
    together = vectors(enc, ALERTS)  # padded to the longest alert
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    # Changing what sits in the padding changes nothing either.
    data = encode_alerts(ALERTS)
    codes, lengths = data.batch(range(len(ALERTS)))
    mask = torch.arange(codes.shape[1])[None, :] >= lengths[:, None]
    noisy = codes.masked_fill(mask, ord("X"))
    with torch.no_grad():
        torch.testing.assert_close(enc(noisy, lengths), together, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["paper", "stacked"])
def test_a_later_character_never_changes_an_earlier_state(name):
    # The state after character t of a longer alert equals the vector of its first t+1 characters.
    enc = encoder(ENCODERS[name])
    line = ALERTS[1]
    data = encode_alerts([line])
    codes, _ = data.batch([0])
    for t in (0, 5, 30, len(line) - 1):
        prefix_vec = vectors(enc, [line[: t + 1]])
        with torch.no_grad():
            read_at_t = enc(codes, torch.tensor([t + 1]))  # same input, read at position t
            changed = codes.clone()
            changed[0, t + 1:] = ord("#")  # different later characters
            read_changed = enc(changed, torch.tensor([t + 1]))
        torch.testing.assert_close(read_at_t, prefix_vec, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(read_changed, prefix_vec, atol=1e-5, rtol=1e-5)


def test_paper_encoder_reads_fixed_one_hot_codes_into_nn_units_lstm():
    enc = AlertEncoder(EncoderConfig(units=(10,), input="onehot"))
    assert enc.embedding is None  # no trained input embedding
    assert enc.layers[0].input_size == 128 and enc.layers[0].hidden_size == 10
    assert enc.output_dim == 10


def test_stacked_layers_follow_nn_units_sizes():
    enc = AlertEncoder(EncoderConfig(units=(64, 32), input="embedding"))
    assert [layer.hidden_size for layer in enc.layers] == [64, 32]
    assert enc.layers[1].input_size == 64
    assert vectors(enc.eval(), ALERTS).shape == (len(ALERTS), 32)
    bi = AlertEncoder(EncoderConfig(units=(8,), bidirectional=True))
    assert bi.output_dim == 16


def test_max_and_meanmax_pooling_read_the_lstm_states_over_real_characters():
    enc = encoder(ENCODERS["meanmax"])
    line = ALERTS[1]
    codes, lengths = encode_alerts([line]).batch([0])
    with torch.no_grad():
        states, _ = enc.layers[0](enc.characters(codes))  # time-major [T, 1, H]
        states = states.transpose(0, 1)
        pooled = enc(codes, lengths)
    assert enc.output_dim == 16 and pooled.shape == (1, 16)
    torch.testing.assert_close(pooled[0, :8], states[0].mean(dim=0))
    torch.testing.assert_close(pooled[0, 8:], states[0].amax(dim=0))
    assert AlertEncoder(ENCODERS["max"]).output_dim == 8
    with pytest.raises(ValueError, match="pooling must be one of"):
        EncoderConfig(pooling="sum")


def test_siamese_model_has_one_parameter_set_shared_by_both_sides():
    torch.manual_seed(0)
    model = SiameseModel(ENCODERS["default"], HeadConfig(scale=5.0, bias=-2.0, learnable=True))
    names = [n for n, _ in model.named_parameters()]
    assert all(n.startswith("encoder.") or n.startswith("head.") for n in names)
    assert sum(1 for n in names if n.startswith("encoder.layers.0.weight_ih")) == 1  # one copy, not two
    data = encode_alerts(ALERTS)
    a, la = data.batch([0, 1])
    b, lb = data.batch([2, 3])
    model.pair_logits(a, la, b, lb).sum().backward()
    # Both sides' gradients land in the single weight tensor; cutting side b's input changes them.
    grad_both = model.encoder.layers[0].weight_hh_l0.grad.clone()
    model.zero_grad()
    with torch.no_grad():
        zb = model.embed(b, lb)
    (model.head((model.embed(a, la) * zb).sum(1))).sum().backward()
    assert not torch.allclose(grad_both, model.encoder.layers[0].weight_hh_l0.grad)


def test_a_pair_and_its_swap_score_the_same():
    torch.manual_seed(1)
    model = SiameseModel(ENCODERS["paper"]).eval()
    data = encode_alerts(ALERTS)
    a, la = data.batch([0, 1, 2])
    b, lb = data.batch([3, 2, 0])
    with torch.no_grad():
        torch.testing.assert_close(model(a, la, b, lb), model(b, lb, a, la))


def test_paper_head_output_lives_in_sigmoid_of_cosine_range():
    model = SiameseModel(ENCODERS["paper"])
    cos = torch.tensor([-1.0, 0.0, 1.0])
    probs = torch.sigmoid(model.head(cos))
    torch.testing.assert_close(probs, torch.tensor([1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-1))]))
    assert not any(p.requires_grad for p in model.head.parameters())  # fixed in the paper
    learned = SiameseModel(ENCODERS["paper"], HeadConfig(scale=10.0, bias=-5.0, learnable=True))
    assert sum(p.numel() for p in learned.head.parameters()) == 2
    with torch.no_grad():
        assert float(torch.sigmoid(learned.head(torch.tensor(1.0)))) > 0.99


def test_benign_never_correlates_not_even_with_benign():
    labels = torch.tensor([0, 0, -1, -1, 1])
    t = pair_targets(labels, labels)
    assert t[0, 1] and t[1, 0] and t[4, 4]
    assert not t[2, 3] and not t[2, 2] and not t[0, 4]


def _batch_embeddings(aligned: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit vectors for labels [0, 0, 1, 1, -1, -1]: incidents tight and benign spread (aligned) or not."""
    labels = torch.tensor([0, 0, 1, 1, -1, -1])
    if aligned:
        z = torch.tensor([[1, 0, 0, 0], [1, 0.05, 0, 0], [0, 1, 0, 0], [0, 1, 0.05, 0],
                          [0, 0, 1, 0], [0, 0, 0, 1.0]])
    else:
        z = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0.1, 0, 0], [0, 1, 0.1, 0],
                          [0.7, 0.7, 0, 0], [0.7, 0.7, 0.1, 0]])
    return torch.nn.functional.normalize(z.float(), dim=1), labels


@pytest.mark.parametrize("loss", [SigmoidPairLoss(), ContrastiveLoss(), SupConLoss()], ids=lambda l: l.name)
def test_losses_prefer_tight_incidents_and_spread_benign(loss):
    head = SiameseModel(ENCODERS["paper"], HeadConfig(scale=10.0, bias=-5.0)).head
    weights = torch.ones(6)
    good = loss(*_cos(*_batch_embeddings(True)), weights, head)
    bad = loss(*_cos(*_batch_embeddings(False)), weights, head)
    assert torch.isfinite(good) and torch.isfinite(bad)
    assert float(good) < float(bad)


def _cos(z, labels):
    return z @ z.T, labels


def test_supcon_benign_term_pushes_benign_alerts_apart():
    z, labels = _batch_embeddings(True)
    collapsed = z.clone()
    collapsed[5] = collapsed[4]  # the two benign alerts on one point
    head = SiameseModel(ENCODERS["paper"]).head
    w = torch.ones(6)
    plain = SupConLoss(benign_weight=0.0)
    spread = SupConLoss(benign_weight=1.0)
    assert float(plain(collapsed @ collapsed.T, labels, w, head)) == pytest.approx(float(plain(z @ z.T, labels, w, head)), abs=0.05)
    assert float(spread(collapsed @ collapsed.T, labels, w, head)) > float(spread(z @ z.T, labels, w, head)) + 0.1


def test_make_loss_passes_the_supcon_temperature_and_rejects_bad_ones():
    from lstm_rnn_correlation.losses import make_loss

    assert make_loss("supcon").temperature == pytest.approx(0.1)
    assert make_loss("supcon", 0.3).temperature == pytest.approx(0.3)
    assert isinstance(make_loss("sigmoid", 0.3), SigmoidPairLoss)  # other losses have no temperature
    z, labels = _batch_embeddings(True)
    head = SiameseModel(ENCODERS["paper"]).head
    w = torch.ones(6)
    # The temperature reaches the loss: the same batch scores differently.
    assert float(make_loss("supcon", 0.05)(z @ z.T, labels, w, head)) != pytest.approx(
        float(make_loss("supcon", 0.5)(z @ z.T, labels, w, head)))
    with pytest.raises(ValueError, match="temperature"):
        make_loss("supcon", 0.0)


def test_sigmoid_loss_gives_correlated_and_uncorrelated_pairs_equal_weight():
    labels = torch.tensor([0, 0, -1, -1, -1, -1, -1, -1])
    cos = torch.zeros(8, 8)
    head = SiameseModel(ENCODERS["paper"], HeadConfig(scale=1.0, bias=0.0)).head
    # With cos = 0 everywhere every pair has loss log 2, whatever the weighting.
    assert float(SigmoidPairLoss()(cos, labels, torch.ones(8), head)) == pytest.approx(math.log(2), rel=1e-6)
    # Make only the 2 correlated pairs right: a balanced loss drops by half the gap, a plain mean by 2/56 of it.
    cos[0, 1] = cos[1, 0] = 20.0
    balanced = float(SigmoidPairLoss()(cos, labels, torch.ones(8), head))
    plain = float(SigmoidPairLoss(balanced=False)(cos, labels, torch.ones(8), head))
    assert balanced == pytest.approx(math.log(2) / 2, rel=1e-3)
    assert plain == pytest.approx(math.log(2) * 54 / 56, rel=1e-3)


@pytest.mark.parametrize("size", [1, 2, 3, 10, 97, 1000, 4097])
def test_pair_permutation_is_a_permutation(size):
    perm = PairPermutation(size, seed=3)
    values = perm(np.arange(size))
    assert sorted(values.tolist()) == list(range(size))
    if size > 10:
        assert values.tolist() != list(range(size))


def test_paper_pairs_are_every_ordered_pair_once_in_shuffled_order():
    n = 13
    seen = [(int(a), int(b)) for left, right in paper_pair_batches(n, 10, seed=1) for a, b in zip(left, right)]
    assert sorted(seen) == [(a, b) for a in range(n) for b in range(n)]  # self-pairs included, as the original
    assert seen != sorted(seen)
    other = [(int(a), int(b)) for left, right in paper_pair_batches(n, 10, seed=2) for a, b in zip(left, right)]
    assert other != seen
    again = [(int(a), int(b)) for left, right in paper_pair_batches(n, 10, seed=1) for a, b in zip(left, right)]
    assert again == seen


def test_paper_pairs_respect_max_pairs_and_batch_size_without_a_table():
    batches = list(paper_pair_batches(50, 64, seed=0, max_pairs=1000))
    assert [len(b[0]) for b in batches] == [64] * 15 + [40]
    pairs = {(int(a), int(b)) for left, right in batches for a, b in zip(left, right)}
    assert len(pairs) == 1000  # distinct pairs, a random part of the 2500
    # A data set of 100,000 alerts has 10^10 pairs; the first batch comes at once (streamed).
    left, right = next(iter(paper_pair_batches(100_000, 10_000, seed=0, chunk=10_000)))
    assert len(left) == 10_000 and left.max() < 100_000 and right.max() < 100_000


def test_incident_batches_keep_incident_alerts_together():
    labels = np.array([-1] * 40 + [0] * 30 + [1] * 5 + [2])
    rng = np.random.default_rng(0)
    batches = incident_batches(labels, batch_size=16, group_size=4, rng=rng)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(labels)))  # every alert once per epoch
    assert max(len(b) for b in batches) <= 16
    for b in batches:  # every alert of an incident with 2+ alerts meets another alert of its incident
        for i in b:
            if labels[i] in (0, 1):
                assert (labels[b] == labels[i]).sum() >= 2
    again = incident_batches(labels, 16, 4, np.random.default_rng(0))
    assert all((x == y).all() for x, y in zip(batches, again))


@pytest.mark.parametrize("loss", [SigmoidPairLoss(), ContrastiveLoss(), SupConLoss()], ids=lambda l: l.name)
def test_a_batch_without_correlated_or_benign_pairs_gives_a_zero_that_backpropagates(loss):
    z = torch.nn.functional.normalize(torch.randn(3, 4), dim=1).requires_grad_()
    head = SiameseModel(ENCODERS["paper"]).head
    value = loss(z @ z.T, torch.tensor([0, 1, 2]), torch.ones(3), head)  # three incidents, one alert each
    value.backward()  # must not raise
    assert torch.isfinite(value)


def test_bidirectional_second_half_reads_each_alert_backwards_from_its_own_end():
    enc = encoder(ENCODERS["bidirectional"])  # embedding input, last-state pooling
    line = ALERTS[0]
    got = vectors(enc, [line, "x" * (len(line) + 30)])[0]  # padded: the other alert is longer
    codes, _ = encode_alerts([line[::-1]]).batch([0])
    with torch.no_grad():
        backward_states, _ = enc.backward_layers[0](enc.characters(codes))
        forward_states, _ = enc.layers[0](enc.characters(encode_alerts([line]).batch([0])[0]))
    # time-major states [T, 1, H]: the last position of the only sequence
    torch.testing.assert_close(got[8:], backward_states[-1, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[:8], forward_states[-1, 0], atol=1e-5, rtol=1e-5)
