"""The growth benchmark's fitted line through the waves' CPU per booking."""

import pytest

from bench.pipeline import _fitted_ends


def test_a_straight_line_is_fitted_exactly() -> None:
    assert _fitted_ends([10.0, 11.0, 12.0, 13.0]) == pytest.approx((10.0, 13.0))


def test_noise_that_is_symmetric_in_time_fits_a_flat_line() -> None:
    first, last = _fitted_ends([12.0, 14.0, 12.0, 14.0, 14.0, 12.0, 14.0, 12.0])
    assert first == pytest.approx(last) == pytest.approx(13.0)


def test_one_wave_is_its_own_line() -> None:
    assert _fitted_ends([12.5]) == (12.5, 12.5)
