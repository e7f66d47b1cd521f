"""The app in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from gazeseg.app import AppSettings, create_app
from gazeseg.eval.clicks import interior_point
from gazeseg.eval.datasets import load_dataset
from gazeseg.eval.metrics import iou
from PIL import Image

CHROMIUM = os.environ.get("GAZESEG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium package (scripts/test.sh does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        yield b
        b.close()


def _image_to_page(page, x, y):
    return page.evaluate(
        "([x, y]) => { const r = document.getElementById('canvas').getBoundingClientRect(); const v = window.gazeseg.view;"
        " return [r.left + v.x + x * v.scale, r.top + v.y + y * v.scale]; }",
        [x, y],
    )


def _until(condition, timeout_s=15.0):
    """Poll a server-side condition (the page acts asynchronously; the machine may be loaded)."""
    import time

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _dwell(page, px, py, ms=500):
    """Move the mouse there like a saccade, then rest (the page keeps streaming the rest as gaze)."""
    page.mouse.move(px, py, steps=8)
    page.wait_for_timeout(ms)


def test_look_accept_undo_redo_export_reload(browser, tmp_path, data_dir, live_server):
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "teddy")
    gt, ignore = obj.load()
    app = create_app(AppSettings(paths=[obj.image_path], project=tmp_path / "p.sqlite", engine="classic"))
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(app) as server:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.wait_for_function("window.gazesegReady === true", timeout=20000)
        x, y = interior_point(gt, ignore)
        px, py = _image_to_page(page, x, y)
        page.mouse.move(20, 20)
        _dwell(page, px, py)
        page.wait_for_function("window.gazeseg.preview !== null", timeout=15000)
        page.screenshot(path=str(ARTIFACTS / "app_preview.png"))
        page.keyboard.press("Space")
        page.wait_for_function("window.gazeseg.preview === null", timeout=15000)
        store = app.state.session.store
        assert _until(lambda: len(store.masks()) == 1)
        assert iou(store.decode(store.masks()[0]), gt, ignore) > 0.6
        page.keyboard.press("u")
        assert _until(lambda: len(store.masks()) == 0)
        page.keyboard.press("r")
        assert _until(lambda: len(store.masks()) == 1)
        page.click("#export")
        page.wait_for_function("document.getElementById('message').textContent.startsWith('exported')", timeout=15000)
        exported = np.asarray(Image.open(tmp_path / "exports" / "teddy_labels.png")) > 0  # label map: class index per pixel
        assert exported.shape == gt.shape and iou(exported, gt, ignore) > 0.6
        metrics = page.evaluate("window.gazeseg.metrics")
        # The session survives a reload: the same image reopens with its accepted mask drawn.
        page.reload()
        page.wait_for_function("window.gazesegReady === true", timeout=20000)
        assert page.evaluate("window.gazeseg.item.name") == "teddy.jpg"
        page.screenshot(path=str(ARTIFACTS / "app_after_reload.png"))
        assert not errors, errors
        assert metrics["openToFirstMask"] and metrics["fixationToMask"]
        (ARTIFACTS / "app_metrics.txt").write_text(
            f"open->first mask ms: {metrics['openToFirstMask']}\nrest->mask ms: {metrics['fixationToMask']}\nserver decode ms: {metrics['serverDecode']}\n"
        )
        page.close()


def test_reject_key_turns_the_place_looked_at_into_a_negative_point(browser, tmp_path, data_dir, live_server):
    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "teddy")
    gt, ignore = obj.load()
    app = create_app(AppSettings(paths=[obj.image_path], project=tmp_path / "p.sqlite", engine="classic"))
    with live_server(app) as server:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(server.url + "/")
        page.wait_for_function("window.gazesegReady === true", timeout=20000)
        x, y = interior_point(gt, ignore)
        page.mouse.move(20, 20)
        _dwell(page, *_image_to_page(page, x, y))
        page.wait_for_function("window.gazeseg.preview !== null", timeout=15000)
        live = app.state.session.live
        background = np.argwhere(~gt & ~(ignore if ignore is not None else np.zeros_like(gt)))
        background = background[(background.min(1) > 20) & (background[:, 0] < gt.shape[0] - 20) & (background[:, 1] < gt.shape[1] - 20)]
        by, bx = background[np.argmax(np.hypot(background[:, 1] - x, background[:, 0] - y))]  # well away from the object's point
        _dwell(page, *_image_to_page(page, float(bx), float(by)))
        page.keyboard.press("x")
        assert _until(lambda: live.current_prompts() is not None and (live.current_prompts().labels == 0).any())
        prompts = live.current_prompts()
        negative = prompts.points_xy[prompts.labels == 0][-1]
        assert np.hypot(negative[0] - bx, negative[1] - by) < 3.0  # where the eyes rested, not the mouse's path
        positives = prompts.points_xy[prompts.labels == 1]
        # looking there to reject it made a fixation there: the reject removed its positive point
        assert len(positives) and np.hypot(*(positives - negative).T).min() > live.merge_px
        assert not app.state.session.store.masks()  # a negative point is a correction, not an accept
        page.close()


def test_volume_slices_in_browser(browser, tmp_path, data_dir, live_server):
    flair = data_dir / "brats" / "brats_2013_pat0001_1" / "Flair_subtrMeanDivStd.nii.gz"
    app = create_app(AppSettings(paths=[flair], project=tmp_path / "p.sqlite", engine="classic"))
    with live_server(app) as server:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(server.url + "/")
        page.wait_for_function("window.gazesegReady === true", timeout=20000)
        start = page.evaluate("window.gazeseg.slice")
        assert page.is_visible("#volumebox")
        page.mouse.move(600, 400)
        page.keyboard.press("ArrowDown")
        page.wait_for_function(f"window.gazeseg.slice === {start + 1}", timeout=15000)
        assert _until(lambda: app.state.session.current.slice_index == start + 1)
        page.close()


class _SteadyTracker:
    """Stands in for a running server-side tracker (the page gets its samples over the WebSocket
    like an LSL or Tobii stream's): a steady look at one display point, paced in real time."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._look: tuple[float, float, float] | None = None  # x, y (display_norm), until (perf counter)

    def look(self, xy_norm, seconds: float = 0.5) -> None:
        import time

        with self._lock:
            self._look = (float(xy_norm[0]), float(xy_norm[1]), time.perf_counter() + seconds)

    def read(self, timeout_s: float = 0.0):
        import time

        from gazeseg.core.types import GazeSamples

        with self._lock:
            now = time.perf_counter()
            if self._look is None or now > self._look[2]:
                return GazeSamples.empty()
            xy = np.array([[self._look[0], self._look[1]]])
        return GazeSamples(np.array([now]), xy, np.ones(1, bool))

    def stop(self) -> None:
        pass


def test_the_learnt_tracker_offset_moves_its_gaze_in_the_page(browser, tmp_path, data_dir, live_server):
    from gazeseg.gaze.implicit_calibration import ImplicitRecalibration

    obj = next(o for o in load_dataset(data_dir / "grabcut") if o.name == "teddy")
    gt, ignore = obj.load()
    app = create_app(AppSettings(paths=[obj.image_path], project=tmp_path / "p.sqlite", engine="classic"))
    session = app.state.session
    learnt = ImplicitRecalibration(max_shift_px=500)
    for dx in (38.0, 40.0, 42.0):  # three earlier objects (40 px wide) whose looks all read ~40 px right
        learnt.observe([100.0 + dx, 100.0 - 24.0], [100.0, 100.0], target_size_px=40.0)
    session.recalibration = learnt
    tracker = _SteadyTracker()
    app.state.gaze_sources["lsl"] = tracker
    with live_server(app) as server:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(server.url + "/")
        page.wait_for_function("window.gazesegReady === true", timeout=20000)
        shift = np.array(page.evaluate("window.gazeseg.gazeShift"))
        assert np.allclose(shift, learnt.shift_px, atol=0.01) and np.hypot(*shift) > 20  # told on load
        page.evaluate("window.gazeseg.source = 'lsl'")  # as if the user had started the LSL tracker
        x, y = interior_point(gt, ignore)
        raw = np.array([x + 20.0, y - 10.0])  # where the tracker's raw gaze points, in image px
        px, py = _image_to_page(page, *raw)
        display = page.evaluate(  # the page's own tracker mapping, inverted
            "([px, py]) => [(px + window.screenX + (window.outerWidth - window.innerWidth)) / screen.width,"
            " (py + window.screenY + (window.outerHeight - window.innerHeight)) / screen.height]", [px, py])
        tracker.look(display)
        live = session.live
        assert _until(lambda: len(live.looked_places()) == 1)
        scale = page.evaluate("window.gazeseg.view.scale")
        assert np.allclose(live.looked_places()[0], raw + shift / scale, atol=1.0)  # the page applied the shift
        page.wait_for_function("window.gazeseg.preview !== null", timeout=15000)
        page.keyboard.press("Space")  # accept: an eye tracker's accept teaches the server (a 4th pair)
        assert _until(lambda: len(session.recalibration.pairs) == 4)
        residual, _ = session.recalibration.pairs[-1]
        mask = session.store.decode(session.store.masks()[0])
        from gazeseg.gaze.implicit_calibration import mask_anchor

        # the server undid the page's shift: the pair is from the raw gaze, in page px
        assert np.allclose(residual, (mask_anchor(mask) - raw) * scale, atol=1.5)
        page.wait_for_function(f"Math.abs(window.gazeseg.gazeShift[0] - {shift[0]}) > 1e-6", timeout=15000)
        assert np.allclose(page.evaluate("window.gazeseg.gazeShift"), session.recalibration.shift_px, atol=0.01)
        page.close()
