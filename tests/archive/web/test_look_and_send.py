"""Look before you download: the quick plot of a search's results (a 2-D histogram past 10 000
rows), and the SAMP buttons that send a result to TOPCAT/Aladin through a real SAMP hub
(pyvo.samp's, with its Web Profile) — clicked in headless Chromium against gunicorn."""

from __future__ import annotations

import io
import queue
import threading
import urllib.request

import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from matplotlib.collections import PathCollection, QuadMesh

from archive.web import plots

from .sky import sky_fixture

pytestmark = [pytest.mark.django_db]


sky = sky_fixture("looksky")


def test_quick_figure_is_a_scatter_up_to_10000_points_then_a_2d_histogram():
    rng = np.random.default_rng(1)
    for n, kind in ((plots.SCATTER_MAX, PathCollection), (plots.SCATTER_MAX + 1, QuadMesh)):
        fig = plots.quick_figure(rng.normal(size=n), rng.normal(size=n), "x", "y")
        drawn = fig.axes[0].collections
        assert len(drawn) == 1 and isinstance(drawn[0], kind), (n, drawn)
        fig.clf()


def test_search_plot_draws_the_search_rows(client, sky):
    r = client.get("/search/plot.png", {"flags": "clean", "x": "teff", "y": "logg"})
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    one = client.get("/search/plot.png", {"x": "m_h"})
    assert one.status_code == 200 and one.content.startswith(b"\x89PNG")
    for bad in ({"x": "flag_boundary"}, {"x": "teff", "y": "source_id"}, {"x": "nope"}):
        assert client.get("/search/plot.png", bad).status_code == 400


def test_search_columns_returns_the_searchs_values(sky):
    from archive.web.forms import SearchForm
    from archive.web.queries import search_columns

    form = SearchForm({"flags": "clean"})
    assert form.is_valid(), form.errors
    (teff,) = search_columns(form.search(), ["teff"], 30)
    clean = sky.flags == "00000000"
    assert len(teff) == clean.sum()
    np.testing.assert_allclose(np.sort(teff), np.sort(sky.labels["teff"][clean]), rtol=1e-6)


def test_search_results_fetch_their_pages_spectra_in_one_file(
    client, web_service, sky, worker_dirs
):
    """The search results' bulk spectra form carries the page's source_ids in its order; posted
    to the live service it gives one row per star, the spectrum from the store."""
    import html
    import re
    import urllib.parse

    from astropy.io import fits

    from archive.catalogue.spectra import read_spectrum
    from labeling.spectrum_store import SpectrumStore

    page = client.get("/search/", {"flags": "clean", "per_page": 25}).content.decode()
    ids = html.unescape(re.search(r'name="ID" value="([^"]*)"', page)[1]).split("\n")
    shown = re.findall(r'<a href="/star/(\d+)/?">', page)
    assert len(ids) == 25 and ids == shown[:25]
    body = urllib.parse.urlencode({"ID": "\n".join(ids), "RESPONSEFORMAT": "fits"}).encode()
    with urllib.request.urlopen(f"{web_service}/datalink/spectra", body, timeout=60) as r:
        data = r.read()
    with fits.open(io.BytesIO(data)) as hdus:
        rows = hdus[1].data
        assert [str(s) for s in rows["source_id"]] == ids
        with_rvs = [k for k, e in enumerate(rows["error"]) if "RVS" not in e]
        assert with_rvs
        store = SpectrumStore(worker_dirs["RVS_SPECTRUM_STORE_URL"])  # the service's store
        for k in with_rvs[:3]:
            flux = read_spectrum(int(ids[k]), store)[0]
            np.testing.assert_array_equal(rows["flux"][k], flux)


class _Approve:
    """The hub's Web Profile consent dialog, answered yes (the user clicking "accept")."""

    queue_request = queue_result = None

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.queue_request.get(timeout=0.1)
            except (queue.Empty, AttributeError):
                continue
            self.queue_result.put(True)


@pytest.fixture
def samp_hub():
    """A real SAMP hub with the Web Profile on localhost:21012, and a client named "topcat"
    that records the tables it is sent."""
    from pyvo.samp import SAMPHubServer, SAMPIntegratedClient

    dialog = _Approve()
    hub = SAMPHubServer(web_profile=True, web_profile_dialog=dialog, lockfile=None)
    try:
        hub.start()
    except Exception as exc:  # the Web Profile port is a fixed one
        pytest.fail(f"cannot start a SAMP hub with the Web Profile: {exc}")
    dialog.thread.start()
    received: queue.Queue = queue.Queue()
    topcat = SAMPIntegratedClient(name="topcat", description="stands in for TOPCAT")
    topcat.connect(hub=hub)
    topcat.bind_receive_notification(
        "table.load.votable", lambda pk, sender, mtype, params, extra: received.put(params)
    )
    yield received
    topcat.disconnect()
    dialog.stop.set()
    hub.stop()


@pytest.mark.browser
def test_samp_button_sends_the_search_result_to_topcat(page, web_service, sky, samp_hub):
    page.goto(web_service + "/search/?flags=clean")
    page.click("#samp-topcat")
    params = samp_hub.get(timeout=30)
    page.wait_for_function("document.getElementById('samp-status').textContent.startsWith('Sent')")
    assert page.locator("#samp-status").inner_text() == "Sent to topcat."
    assert params["name"] == "rvs_cnn search"
    # what TOPCAT would do: fetch the URL, with no cookie of the visitor's
    with urllib.request.urlopen(params["url"], timeout=30) as response:
        table = parse_single_table(io.BytesIO(response.read())).to_table()
    clean = sky.flags == "00000000"
    assert sorted(table["source_id"]) == sorted(int(s) for s in sky.source_ids[clean])


@pytest.mark.browser
def test_samp_button_says_when_no_such_client_runs(page, web_service, sky, samp_hub):
    page.goto(web_service + "/search/?flags=clean")
    page.click("#samp-aladin")
    page.wait_for_function("document.getElementById('samp-status').textContent.length > 0")
    page.wait_for_function(
        "!document.getElementById('samp-status').textContent.startsWith('Asking')"
    )
    assert "No Aladin is connected" in page.locator("#samp-status").inner_text()
    assert samp_hub.empty()
