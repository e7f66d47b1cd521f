import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gazeseg.core.geometry import ViewingGeometry, Viewport, rc_to_xy, xy_to_rc


def test_px_per_deg_matches_trigonometry():
    geometry = ViewingGeometry(screen_w_px=1280, screen_h_px=1024, screen_w_mm=380, screen_h_mm=302, distance_mm=680)
    # 1 degree at 680 mm is 2*680*tan(0.5 deg) = 11.87 mm; pixels are ~0.296 mm.
    assert geometry.px_per_deg == pytest.approx(11.868 / 0.2959, rel=2e-3)
    assert float(geometry.px_to_deg(geometry.px_per_deg)) == pytest.approx(1.0, abs=1e-6)


@given(st.floats(0.0, 30.0))
def test_degrees_round_trip(deg):
    geometry = ViewingGeometry()
    assert float(geometry.px_to_deg(geometry.deg_to_px(deg))) == pytest.approx(deg, abs=1e-9)


@given(
    st.floats(0.1, 8.0), st.floats(-500, 500), st.floats(-500, 500),
    st.floats(0, 2000), st.floats(0, 2000),
)
def test_viewport_round_trip(scale, left, top, x, y):
    viewport = Viewport(640, 480, left, top, scale)
    back = viewport.screen_to_image(viewport.image_to_screen(np.array([[x, y]])))
    np.testing.assert_allclose(back, [[x, y]], rtol=1e-9, atol=1e-6)


def test_zoom_keeps_the_anchor_point_fixed():
    viewport = Viewport.fit(800, 600, ViewingGeometry())
    anchor = (700.0, 400.0)
    under_cursor = viewport.screen_to_image(np.array(anchor))
    zoomed = viewport.zoomed(2.0, about_screen_px=anchor)
    np.testing.assert_allclose(zoomed.screen_to_image(np.array(anchor)), under_cursor)
    assert zoomed.image_px_per_deg(ViewingGeometry()) == pytest.approx(viewport.image_px_per_deg(ViewingGeometry()) / 2)


def test_fit_centres_image():
    geometry = ViewingGeometry()
    viewport = Viewport.fit(1000, 1000, geometry, fill=1.0)
    centre = viewport.image_to_screen(np.array([500.0, 500.0]))
    np.testing.assert_allclose(centre, [geometry.screen_w_px / 2, geometry.screen_h_px / 2])


def test_xy_rc_conventions():
    assert xy_to_rc(np.array([[10.7, 3.2]])).tolist() == [[3, 10]]
    assert rc_to_xy(np.array([[3, 10]])).tolist() == [[10.5, 3.5]]


@pytest.mark.parametrize("field", ["screen_w_px", "distance_mm"])
@pytest.mark.parametrize("value", [0, -1, math.nan])
def test_invalid_geometry_is_rejected_with_the_field_name(field, value):
    with pytest.raises(ValueError, match=field):
        ViewingGeometry(**{field: value})
