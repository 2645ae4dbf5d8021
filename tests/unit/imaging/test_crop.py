"""Crops: a fractional box, an aspect in the centre, or an aspect where the content is."""

import pytest
from PIL import Image

from image_pipeline.imaging import CropSpec, RenditionSpec, render
from image_pipeline.imaging.crop import energy_map, region
from tests.unit.imaging import samples


def _detail_at(x_fraction: float, size: tuple[int, int] = (800, 400)) -> bytes:
    """A flat grey picture with a busy patch centred at ``x_fraction`` of its width."""
    image = Image.new("RGB", size, (128, 128, 128))
    patch = samples.photo((size[1] // 2, size[1] // 2))
    image.paste(patch, (round(x_fraction * size[0]) - patch.width // 2, size[1] // 4))
    return samples.encode(image, "PNG")


def _square(mode: str) -> RenditionSpec:
    return RenditionSpec("sq", 100, "PNG", crop=CropSpec(mode, aspect=(1, 1)))  # type: ignore[arg-type]


def _busy_fraction(data: bytes) -> float:
    """Where, across the width, the output's non-grey pixels are (0 = left edge, 1 = right)."""
    image = samples.decode(data)
    columns = [
        x
        for x in range(image.width)
        if any(abs(samples.pixel(image, (x, y))[1] - 128) > 20 for y in range(image.height))
    ]
    return (sum(columns) / len(columns)) / image.width if columns else -1.0


def test_a_centre_crop_keeps_the_middle_at_the_aspect() -> None:
    # Given an 800x400 picture with detail at its right edge
    made = render(_detail_at(0.8), [_square("centre")])[0]
    # Then the square is 100x100 and taken from the middle: the detail is cut at its right edge
    assert (made.width, made.height) == (100, 100)
    assert _busy_fraction(made.data) > 0.8


@pytest.mark.parametrize("where", [0.2, 0.8])
def test_a_content_crop_follows_the_detail(where: float) -> None:
    # Given the busy patch on one side of a flat picture
    made = render(_detail_at(where), [_square("content")])[0]
    # Then the square window moved to it: the patch sits near the middle of the crop
    assert (made.width, made.height) == (100, 100)
    assert 0.3 < _busy_fraction(made.data) < 0.7


def test_a_content_crop_of_a_flat_picture_stays_centred() -> None:
    flat = samples.encode(Image.new("RGB", (800, 400), (90, 90, 90)), "PNG")
    centre = samples.decode(render(flat, [_square("centre")])[0].data)
    content = samples.decode(render(flat, [_square("content")])[0].data)
    assert centre.tobytes() == content.tobytes()


def test_a_box_crop_takes_those_fractions() -> None:
    # Given the quadrant picture, and the top-right quarter as a box
    data = samples.encode(samples.quadrants((400, 200)), "PNG")
    spec = RenditionSpec("tr", 400, "PNG", crop=CropSpec("centre", box=(0.5, 0.0, 1.0, 0.5)))
    image = samples.decode(render(data, [spec])[0].data)
    # Then it is that quarter, at its own size (never upscaled), all green
    assert image.size == (200, 100)
    assert samples.close(samples.pixel(image, (100, 50)), samples.GREEN)


def test_a_box_with_an_aspect_fits_the_aspect_inside_the_box() -> None:
    data = samples.encode(samples.quadrants((400, 200)), "PNG")
    spec = RenditionSpec("b", 400, "PNG", crop=CropSpec("centre", aspect=(1, 1), box=(0.0, 0.5, 0.5, 1.0)))
    image = samples.decode(render(data, [spec])[0].data)
    assert image.size == (100, 100)
    assert samples.close(samples.pixel(image, (50, 50)), samples.BLUE)


def test_a_portrait_aspect_slides_horizontally_and_a_wide_one_vertically() -> None:
    data = samples.encode(samples.photo((300, 300)), "PNG")
    tall, wide = render(
        data,
        [
            RenditionSpec("tall", 300, "PNG", crop=CropSpec("content", aspect=(1, 2))),
            RenditionSpec("wide", 300, "PNG", crop=CropSpec("content", aspect=(3, 1))),
        ],
    )
    assert (tall.width, tall.height) == (150, 300)
    assert (wide.width, wide.height) == (300, 100)


@pytest.mark.parametrize(
    "kwargs",
    [{"aspect": (0, 1)}, {"box": (0.5, 0.0, 0.4, 1.0)}, {"box": (0.0, 0.0, 1.2, 1.0)}],
)
def test_an_impossible_crop_is_a_programming_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CropSpec("centre", **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- faces (focus regions)
def _window(focus: tuple[tuple[float, float, float, float], ...], *, where: float = 0.2) -> tuple[float, ...]:
    """The 1:1 window a content crop takes of an 800x400 picture whose detail is at ``where``,
    given ``focus`` regions (faces)."""
    image = samples.decode(_detail_at(where))
    return region(CropSpec("content", aspect=(1, 1), focus=focus), image.size, lambda: energy_map(image))


def _face(left: float, right: float) -> tuple[float, float, float, float]:
    return (left, 0.3, right, 0.6)


@pytest.mark.parametrize(
    ("face", "start"),
    [
        (_face(0.30, 0.40), 0.10),  # centred on the face
        (_face(0.80, 0.90), 0.50),  # centred would pass the right edge: against it
        (_face(0.02, 0.10), 0.00),  # ... the left edge
        (_face(0.25, 0.75), 0.25),  # exactly the window's width: all of it
        (_face(0.24, 0.76), 0.25),  # just wider: centred, both sides cut alike
        (_face(0.26, 0.74), 0.25),  # just narrower: centred
    ],
)
def test_a_content_crop_holds_the_face_and_not_the_busy_part(
    face: tuple[float, float, float, float], start: float
) -> None:
    # Given the busy patch at 0.2 of the width (where edges alone would put the window)
    left, top, right, bottom = _window((face,))
    # Then the window is the picture's height and half its width, placed by the face
    assert (top, bottom) == (0.0, 1.0)
    assert right - left == pytest.approx(0.5)
    assert left == pytest.approx(start)


def test_faces_that_fit_together_are_centred_together() -> None:
    left, _, right, _ = _window((_face(0.30, 0.35), _face(0.60, 0.65)))
    assert left == pytest.approx(0.225)
    assert right == pytest.approx(0.725)


def test_of_faces_too_far_apart_the_window_holds_the_larger_whole() -> None:
    small, large = (0.05, 0.3, 0.10, 0.40), (0.80, 0.2, 0.95, 0.6)
    left, _, right, _ = _window((small, large))
    assert left <= large[0]
    assert large[2] <= right
    assert small[0] < left  # the small face could not be held too


def test_faces_outside_the_crop_box_leave_the_placement_to_the_edges() -> None:
    # Given a box over the left half and a face in the right half
    image = samples.decode(_detail_at(0.2))
    box = (0.0, 0.0, 0.5, 1.0)
    placed = [
        region(CropSpec("content", aspect=(1, 2), box=box, focus=focus), image.size, lambda: energy_map(image))
        for focus in ((), (_face(0.8, 0.9),))
    ]
    # Then the window is where it is without faces
    assert placed[0] == placed[1]


def test_a_centre_crop_ignores_faces() -> None:
    image = samples.decode(_detail_at(0.2))
    spec = CropSpec("centre", aspect=(1, 1), focus=(_face(0.8, 0.9),))
    assert region(spec, image.size, lambda: energy_map(image)) == (0.25, 0.0, 0.75, 1.0)


def test_a_rendered_content_crop_follows_the_face() -> None:
    # Given the busy patch at 0.2 and a (flat) face region at 0.8: the output is taken from the right
    spec = RenditionSpec("sq", 100, "PNG", crop=CropSpec("content", aspect=(1, 1), focus=(_face(0.8, 0.9),)))
    assert _busy_fraction(render(_detail_at(0.2), [spec])[0].data) == -1.0  # no busy pixel in it


@pytest.mark.parametrize("focus", [(0.5, 0.0, 0.4, 1.0), (0.0, 0.0, 1.01, 1.0), (-0.01, 0.0, 0.5, 1.0)])
def test_a_focus_region_outside_the_picture_is_a_programming_error(focus: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CropSpec("content", aspect=(1, 1), focus=(focus,))
