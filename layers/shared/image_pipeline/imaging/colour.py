"""Pixels in one shape for everything downstream: 8-bit sRGB, ``RGB`` or ``RGBA``.

An embedded ICC profile (Adobe RGB, Display P3, a CMYK press profile...) is converted to sRGB,
because outputs carry no profile and browsers read untagged images as sRGB.
"""

import io
from functools import lru_cache

from PIL import Image, ImageCms

_SRGB = ImageCms.createProfile("sRGB")
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def to_srgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit sRGB, keeping an alpha channel only when some pixel is not opaque."""
    icc = image.info.get("icc_profile")
    rgb = _eight_bit(image)
    if isinstance(icc, bytes) and icc and rgb.mode in {"RGB", "RGBA", "CMYK"}:
        rgb = _apply_profile(rgb, icc)
    if rgb.mode == "CMYK":
        rgb = rgb.convert("RGB")
    if rgb.mode == "RGBA" and _opaque(rgb):
        rgb = rgb.convert("RGB")
    rgb.info = {}  # the profile is applied (or was sRGB): it must not be applied twice
    return rgb


def _eight_bit(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        # Pillow's I;16 -> L conversion clips at 255: scale the 16-bit range down instead.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L").convert("RGB")
    if mode in {"RGBA", "CMYK"}:
        return image
    if mode in {"LA", "La", "PA", "RGBa"} or image.has_transparency_data:
        return image.convert("RGBA")  # palette or colour-key transparency becomes real alpha
    return image if mode == "RGB" else image.convert("RGB")


def _opaque(image: Image.Image) -> bool:
    low, _ = image.getchannel("A").getextrema()
    return bool(low == 255)


@lru_cache(maxsize=8)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if mode != "CMYK" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None  # already sRGB: converting would cost time and change nothing
        return ImageCms.buildTransform(profile, _SRGB, mode, "RGB", ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile: the pixels are still good, read them as sRGB


def _apply_profile(image: Image.Image, icc: bytes) -> Image.Image:
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    source = image.convert("RGB") if alpha is not None else image
    transform = _transform(icc, source.mode)
    if transform is None:
        return image
    converted = ImageCms.applyTransform(source, transform)
    if converted is None:  # only with inPlace=True, which is not used here
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
