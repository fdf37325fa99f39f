"""swiftlib.metrics.history: status frames go to a bounded local series, not the audit trail."""
from __future__ import annotations

import json

from swiftlib.metrics import history as mh

FRAME = {
    "timestamp": "2026-12-01T08:00:00Z", "mode": "canary", "weight": 10, "version": "1.0.0",
    "canary_version": "2.0.0", "host": "local",
    "tracks": {"stable": {"req_per_s": 9.0, "error_rate": 0.0, "p99_latency_ms": 5.0, "requests": 90, "chaos": "none",
                          "uptime_seconds": 100.0},
               "canary": {"req_per_s": 1.0, "error_rate": 0.5, "p99_latency_ms": 6.0, "requests": 10, "chaos": "error",
                          "uptime_seconds": 20.0}},
    "policies": [{"domain": "canary", "question": "pre_promote", "allow": False, "reasons": ["error rate 50%"]}],
    "host_stats": {"disk_free_gb": 10},
}


def test_a_sample_keeps_what_charts_need_per_track():
    sample = mh.sample_of(FRAME)
    assert sample["tracks"]["canary"] == {"req_per_s": 1.0, "error_rate": 0.5, "p99_latency_ms": 6.0,
                                          "requests": 10, "chaos": "error"}
    assert sample["decisions"] == [{"domain": "canary", "allow": False, "reasons": ["error rate 50%"]}]
    assert "host_stats" not in sample and sample["weight"] == 10


def test_record_and_read_back(tmp_path):
    for _ in range(3):
        mh.record(tmp_path, "deploy@h1:22", FRAME)
    samples = mh.read(tmp_path, "deploy@h1:22")
    assert len(samples) == 3 and samples[0]["mode"] == "canary"
    assert mh.history_path(tmp_path, "deploy@h1:22").name == "metrics-deploy_h1_22.jsonl"


def test_the_file_stays_bounded(tmp_path):
    for i in range(250):
        mh.record(tmp_path, "local", dict(FRAME, timestamp=f"2026-12-01T08:{i // 60:02d}:{i % 60:02d}Z"), limit=100)
    samples = mh.read(tmp_path, "local")
    assert 50 <= len(samples) <= 100
    assert samples[-1]["timestamp"] == "2026-12-01T08:04:09Z"  # the newest kept


def test_a_torn_last_line_is_skipped(tmp_path):
    mh.record(tmp_path, "local", FRAME)
    with open(mh.history_path(tmp_path, "local"), "a") as f:
        f.write('{"timestamp": "2026-12')
    assert len(mh.read(tmp_path, "local")) == 1
    assert json.loads(mh.history_path(tmp_path, "local").read_text().splitlines()[0])["mode"] == "canary"


def test_a_line_of_absurd_nesting_is_skipped_like_a_torn_one(tmp_path):
    """The dashboard's /api/series answered 500 (RecursionError) on such a line."""
    mh.record(tmp_path, "local", FRAME)
    with open(mh.history_path(tmp_path, "local"), "a") as f:
        f.write("[" * 5000 + "\n")
    mh.record(tmp_path, "local", FRAME)
    assert len(mh.read(tmp_path, "local")) == 2
