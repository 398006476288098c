"""The scikit-learn-style embedder that the clustering and the notebooks use."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from lstm_rnn_correlation.embedding import LSTMEmbedder
from lstm_rnn_correlation.errors import UserError

from _model_helpers import synthetic_dataset

PARAMS = dict(units=(8,), embedding_dim=8, epochs=2, batch_size=32, threads=1, seed=5)


@pytest.fixture(scope="module")
def data():
    frame = synthetic_dataset(n_incidents=3, per_incident=20, n_benign=60, short=True, seed=2)
    return frame[frame.cut != 0], frame[frame.cut == 0]


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    train, val = data
    run_dir = tmp_path_factory.mktemp("emb") / "run"
    emb = LSTMEmbedder(**PARAMS).fit(train.alert.tolist(), train.incident.tolist(),
                                     val.alert.tolist(), val.incident.tolist(), run_dir=run_dir)
    return emb, run_dir


def test_constructor_only_stores_parameters():
    emb = LSTMEmbedder(**PARAMS)
    assert emb.get_params()["units"] == (8,) and emb.get_params()["seed"] == 5
    assert not any(name.endswith("_") for name in vars(emb))
    copy = clone(emb)
    assert copy.get_params() == emb.get_params()


def test_transform_gives_unit_float32_vectors_in_input_order(fitted, data):
    emb, _ = fitted
    alerts = data[1].alert.tolist()
    vectors = emb.transform(alerts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(alerts), emb.n_features_out_)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(alerts))
    np.testing.assert_allclose(emb.transform([alerts[i] for i in order]), vectors[order], atol=1e-6)


def test_identical_alerts_get_identical_vectors_and_odd_text_still_embeds(fitted):
    emb, _ = fitted
    alerts = ["[1:1:1] same line {TCP} 1.2.3.4:80 -> 5.6.7.8:90"] * 3 + ["", "café ☕", "x" * 5000]
    vectors = emb.transform(alerts)
    assert np.array_equal(vectors[0], vectors[1]) and np.array_equal(vectors[0], vectors[2])
    assert np.isfinite(vectors).all()
    assert emb.transform([]).shape == (0, emb.n_features_out_)


def test_worker_processes_give_the_one_process_vectors(fitted, data, monkeypatch):
    # A large log is embedded by several processes (one torch thread each); the vectors
    # and their order are those of the one-process loop.
    from lstm_rnn_correlation import embedding, parallel

    emb, _ = fitted
    alerts = [f"{a} #{i}" for i, a in enumerate(data[0].alert.tolist() * 3)]  # distinct lines
    one = emb.transform(alerts)
    monkeypatch.setattr(embedding, "PARALLEL_MIN_ALERTS", 10)
    monkeypatch.setattr(parallel, "CHUNK_BATCHES", 1)
    emb.workers, emb.transform_batch_size = 2, 16  # several batches and chunks per worker
    try:
        two = emb.transform(alerts)
        with pytest.raises(UserError, match="workers"):
            emb.set_params(workers=-1).transform(alerts)
    finally:
        emb.workers, emb.transform_batch_size = 1, 512
    np.testing.assert_allclose(two, one, atol=1e-6)


def test_load_from_run_folder_or_checkpoint_gives_the_same_vectors(fitted, data):
    emb, run_dir = fitted
    alerts = data[1].alert.tolist()
    expected = emb.transform(alerts)
    for source in (run_dir, run_dir / "checkpoints" / "epoch-002.pt"):
        loaded = LSTMEmbedder.load(source)
        assert loaded.get_params()["units"] == (8,)
        assert len(loaded.history_) == 2
        np.testing.assert_allclose(loaded.transform(alerts), expected, atol=1e-6)


def test_save_then_load(fitted, data, tmp_path):
    emb, _ = fitted
    emb.save(tmp_path / "model.pt")
    alerts = data[1].alert.tolist()[:5]
    np.testing.assert_allclose(LSTMEmbedder.load(tmp_path / "model.pt").transform(alerts), emb.transform(alerts),
                               atol=1e-6)


def test_fitting_twice_with_one_seed_gives_the_same_vectors(data):
    train, val = data
    a = LSTMEmbedder(**{**PARAMS, "epochs": 3}).fit(train.alert.tolist(), train.incident.tolist())
    b = LSTMEmbedder(**{**PARAMS, "epochs": 3}).fit(train.alert.tolist(), train.incident.tolist())
    va = a.transform(val.alert.tolist())
    assert np.array_equal(va, b.transform(val.alert.tolist()))
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]


def test_unfitted_and_bad_input_are_clear_errors(data):
    with pytest.raises(UserError, match="not fitted"):
        LSTMEmbedder().transform(["x"])
    with pytest.raises(UserError, match="no training alerts"):
        LSTMEmbedder(**PARAMS).fit([], [])
    with pytest.raises(UserError, match="alerts but"):
        LSTMEmbedder(**PARAMS).fit(["a", "b"], [1])
    with pytest.raises(UserError, match="no checkpoints"):
        LSTMEmbedder.load(".")
