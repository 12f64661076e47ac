"""Every picture format users have becomes the model's uint8 input, never a crash."""
import io

import numpy as np
import pytest
from PIL import Image

from conftest import spec
from easycls.data.images import array_to_pil, load_for_model, looks_grayscale, to_model_array


def saved(image: Image.Image, tmp_path, name="picture.png", **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_pil_mode_converts_to_the_requested_channels(mode, channels):
    image = Image.new("RGB", (20, 10), (200, 100, 50)).convert(mode)
    array = to_model_array(image, spec(channels, 16))
    assert array.shape == (channels, 16, 16) and array.dtype == np.uint8


def test_transparent_pixels_become_white_background():
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_model_array(image, spec(3, 4)).min() == 255


def test_sixteen_bit_png_keeps_its_brightness(tmp_path):
    image = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    path = saved(image, tmp_path)
    assert load_for_model(path, spec(1, 8)).min() == 255


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    wide = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = saved(wide, tmp_path, "photo.jpg", exif=exif)
    from easycls.data.images import open_image

    assert open_image(path).size == (20, 40)


def test_cmyk_jpeg_is_read(tmp_path):
    path = saved(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), tmp_path, "cmyk.jpg")
    red = load_for_model(path, spec(3, 10))
    assert red[0].mean() > 200 and red[1].mean() < 60


def test_paths_with_chinese_characters_and_spaces(tmp_path):
    folder = tmp_path / "我的 图片"
    folder.mkdir()
    path = saved(Image.new("L", (9, 9), 128), folder, "石头 1.png")
    assert load_for_model(path, spec(1, 9)).mean() == 128


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3), (5, 7, 4)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.uint16, bool])
def test_numpy_arrays_of_every_documented_shape_and_dtype(shape, dtype):
    array = np.ones(shape, dtype=dtype)
    image = array_to_pil(array)
    assert image.size == (7, 5)


def test_float_arrays_are_read_as_zero_to_one():
    assert np.asarray(array_to_pil(np.full((2, 2), 0.5))).max() == 128


def test_gray_pictures_saved_as_rgb_count_as_grayscale():
    assert looks_grayscale(Image.new("RGB", (4, 4), (90, 90, 90)))
    assert not looks_grayscale(Image.new("RGB", (4, 4), (200, 90, 90)))


def test_truncated_png_is_an_image_error(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:60])
    from easycls import ImageError

    with pytest.raises(ImageError, match="Cannot read .*cut.png' as an image"):
        load_for_model(path, spec(1, 8))


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png"])
def test_gray_models_get_the_same_pixels_from_a_file_a_pil_image_and_an_array(tmp_path, name):
    blocks = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    picture = np.kron(blocks, np.ones((8, 8, 1), np.uint8))  # colour blocks: JPEG's worst case
    path = saved(Image.fromarray(picture), tmp_path, name, **({"quality": 90} if name.endswith("jpg") else {}))
    from_file = load_for_model(path, spec(1, 64))
    from_pil = to_model_array(Image.open(path), spec(1, 64))
    from_array = to_model_array(array_to_pil(np.asarray(Image.open(path).convert("RGB"))), spec(1, 64))
    assert np.array_equal(from_file, from_pil) and np.array_equal(from_pil, from_array)
