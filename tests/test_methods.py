"""Methods behind one interface: fit on labelled alerts, transform to unit vectors."""

from __future__ import annotations

import numpy as np
import pytest
from _eval_helpers import alert_dataset

from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.methods import (
    METHODS,
    AlertMethod,
    SignatureMethod,
    make_method,
    register,
    signature_key,
)

SNORT = ("08/15-15:53:48.900440  [**] [120:3:1] (http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP "
         "RESPONSE [**] [Classification: Unknown Traffic] [Priority: 3] {TCP} 94.63.149.152:80 -> 192.168.1.20:1040")


def test_registry_has_the_three_methods():
    assert {"lstm", "lsa", "signature"} <= set(METHODS)


@pytest.mark.parametrize("name", ["lsa", "signature"])
def test_transform_gives_unit_rows_in_input_order(name):
    data = alert_dataset(seed=1)
    method = make_method(name, seed=0).fit(data["alert"], data["incident"])
    vectors = method.transform(data["alert"])
    assert vectors.shape[0] == len(data)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # order: transforming a reversed list gives the reversed rows
    np.testing.assert_allclose(method.transform(list(data["alert"])[::-1]), vectors[::-1], atol=1e-6)
    assert method.transform([]).shape == (0, vectors.shape[1])


def test_lsa_is_reproducible_and_shaped_like_the_original():
    data = alert_dataset(seed=2)
    a = make_method("lsa", seed=3).fit(data["alert"]).transform(data["alert"])
    b = make_method("lsa", seed=3).fit(data["alert"]).transform(data["alert"])
    np.testing.assert_array_equal(a, b)
    method = make_method("lsa").fit(data["alert"])
    assert method.vectorizer_.analyzer == "char" and method.vectorizer_.ngram_range == (1, 3)
    assert method.n_features_out_ == 100  # enough n-grams here for the original's 100 components


def test_lsa_shrinks_the_svd_for_a_tiny_vocabulary():
    alerts = ["aab", "abb", "aab", "bba", "abb"]
    method = make_method("lsa").fit(alerts)
    assert 1 <= method.n_features_out_ < 100
    assert method.transform(alerts).shape == (5, method.n_features_out_)


def test_signature_keys():
    assert signature_key(SNORT) == "sid:120:3"
    eve = '{"event_type": "alert", "alert": {"gid": 1, "signature_id": 2210045, "signature": "x"}}'
    assert signature_key(eve) == "sid:1:2210045"
    ait_a = "2022-01-24 11:37:45 mail 172.19.130.4 Wazuh: Dovecot Authentication Success."
    ait_b = "2022-01-24 12:01:02 davey_mail 192.168.231.56 Wazuh: Dovecot Authentication Success."
    assert signature_key(ait_a) == signature_key(ait_b) == "msg:Wazuh: Dovecot Authentication Success."
    # digits and addresses in other lines are masked: same rule text, same key
    assert signature_key("sshd[12]: fail from 10.0.0.1 port 22") == signature_key("sshd[99]: fail from 10.9.9.9 port 5")


def test_signature_vectors_group_identical_signatures_only():
    a = SNORT
    b = SNORT.replace("94.63.149.152", "8.8.8.8").replace("15:53:48", "16:00:01")  # same rule, other details
    c = SNORT.replace("[120:3:1]", "[1:2013028:3]")  # another rule
    method = SignatureMethod().fit([a, c])
    va, vb, vc = method.transform([a, b, c])
    assert np.array_equal(va, vb)
    assert va @ vc == 0.0
    # an unseen signature is orthogonal to every training signature
    unseen = method.transform([SNORT.replace("[120:3:1]", "[1:999:1]")])[0]
    assert unseen @ va == 0.0 and unseen @ vc == 0.0 and np.linalg.norm(unseen) == pytest.approx(1.0)


def test_make_method_rejects_unknown_names_and_parameters():
    with pytest.raises(UserError, match="unknown method"):
        make_method("nope")
    with pytest.raises(UserError, match="no parameter"):
        make_method("lsa", n_componentz=3)
    with pytest.raises(UserError, match="no parameter"):
        METHODS["lsa"].from_options({"n_componentz": 3})
    with pytest.raises(UserError, match="not fitted"):
        make_method("lsa").transform(["x"])


def test_from_options_fills_seed_and_keeps_user_values():
    assert METHODS["lsa"].from_options({"n_components": 7}, seed=5).get_params()["seed"] == 5
    assert METHODS["lsa"].from_options({"seed": 2}, seed=5).get_params()["seed"] == 2
    lstm = METHODS["lstm"].from_options({"epochs": 2}, seed=4, work_dir="somewhere")
    assert lstm.params == {"epochs": 2, "max_eval_alerts": 0} and lstm.seed == 4 and lstm.run_dir == "somewhere"


def test_adding_a_method_is_one_class(monkeypatch):
    monkeypatch.setattr("lstm_rnn_correlation.methods.METHODS", dict(METHODS))

    @register
    class Length(AlertMethod):
        name = "length"

        def __init__(self, seed: int = 0):
            self.seed = seed

        def fit(self, alerts, incidents=None):
            self.fitted_ = True
            return self

        def transform(self, alerts):
            lengths = np.array([[len(a), 1.0] for a in alerts])
            return lengths / np.linalg.norm(lengths, axis=1, keepdims=True)

    from lstm_rnn_correlation import methods

    assert "length" in methods.METHODS
    vectors = make_method("length").fit(["a", "bb"]).transform(["a", "bb"])
    assert vectors.shape == (2, 2)


@pytest.mark.slow
def test_lstm_adapter_trains_and_transforms():
    pytest.importorskip("torch")
    data = alert_dataset(seed=3, per_incident=12, n_benign=30)
    method = make_method("lstm", params={"epochs": 1, "units": (8,), "max_eval_alerts": 0}, seed=0)
    vectors = method.fit(data["alert"], data["incident"]).transform(data["alert"])
    assert vectors.shape[0] == len(data)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.shared_data
def test_signature_keys_of_real_ait_ads_lines_follow_the_detector_message(ait_ads_file):
    # the data set lines of AIT-ADS carry no rule id: the key is the detector message, so
    # the signatures partition the alerts exactly as the scenario's alert names do
    from lstm_rnn_correlation.formats import build_alert_lines, read_alerts

    records = read_alerts([ait_ads_file], "ait-ads").records
    sample = records.iloc[np.random.default_rng(0).choice(len(records), size=5000, replace=False)]
    keys = [signature_key(line) for line in build_alert_lines(sample)]
    pairs = set(zip(keys, sample["message"].astype(str)))
    assert len(pairs) == len(set(keys)) == sample["message"].nunique()
    assert all(k.startswith("msg:") for k in keys)
