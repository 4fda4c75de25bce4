"""Property-based: strange URLs never give a 500, strange recordings never a traceback."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensor.errors import RecordingError
from sensor.recording import read_recording
from tests.webfixtures import build_db, web_config
from web.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    cfg = web_config(d)
    build_db(d / "k.db", nights=1, cfg=cfg).close()
    return create_app(d / "k.db", cfg, testing=True).test_client()


ROUTES = ["/", "/night/{}", "/night/{}/print", "/night/{}/movements.csv", "/night/{}/recording.edf",
          "/night/{}/delete", "/nights?days={}", "/print?from={}&to={}", "/api/night/{}", "/{}", "/status?{}"]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), a=text, b=text, method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]))
def test_no_route_answers_500_or_shows_a_stack(client, route, a, b, method):
    from urllib.parse import quote
    path = route.format(quote(a, safe=""), quote(b, safe="")) if route.count("{}") == 2 else route.format(quote(a, safe=""))
    r = client.open(path, method=method)
    body = r.get_data(as_text=True)
    assert r.status_code < 500, (path, method, r.status_code)
    assert "Traceback" not in body and 'File "' not in body


@settings(max_examples=120, deadline=None)
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".npz", ".csv", ".edf"]))
def test_garbage_files_give_a_recording_error(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("g") / f"x{suffix}"
    p.write_bytes(data)
    try:
        rec = read_recording(p)
    except RecordingError as e:
        assert "\n" not in str(e)
    else:
        assert rec.fs > 0 and np.all(np.isfinite(rec.signal))


@settings(max_examples=120, deadline=None)
@given(fs=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**7)),
       shape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       fill=st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf]))
def test_odd_npz_contents_give_a_recording_error(tmp_path_factory, fs, shape, fill):
    p = tmp_path_factory.mktemp("n") / "x.npz"
    np.savez(p, fs=fs, signal=np.full(shape, fill))
    try:
        rec = read_recording(p)
    except RecordingError as e:
        assert "\n" not in str(e)
    else:
        assert rec.fs > 0 and rec.signal.shape[0] >= 2 and np.all(np.isfinite(rec.signal))
