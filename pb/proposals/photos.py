"""Photos of proposals: checked to be real images, re-encoded (which drops hidden data
such as the camera's location), shrunk, and stored under the instance folder."""

import os
import secrets
import warnings
from io import BytesIO

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from pb.proposals.services import ProposalError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1600
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# Read from the file's header, before any decoding: a small file can claim a huge image
# (an 86 KB PNG of 9,400 x 9,400 pixels once took 450 MB to decode). A JPEG is decoded at a
# reduced scale straight away (JPEG's own draft mode), so a large camera photo is cheap;
# PNG and WebP are decoded whole, so they are held to fewer pixels.
MAX_PIXELS = {"JPEG": 64_000_000, "PNG": 16_000_000, "WEBP": 16_000_000}


def photo_folder() -> str:
    folder = os.path.join(current_app.instance_path, "uploads", "proposals")
    os.makedirs(folder, exist_ok=True)
    return folder


def store_photo(upload) -> str:
    """Check and store an uploaded photo; return its file name. Raises ProposalError."""
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ProposalError(_("The photo is too large: it can be at most 5 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ProposalError(_("The photo must be a JPEG, PNG or WebP image."))
            width, height = image.size
            if width * height > MAX_PIXELS[image.format]:
                raise ProposalError(_("The photo has too many pixels: make it at most %(megapixels)d megapixels.",
                                      megapixels=MAX_PIXELS[image.format] // 1_000_000))
            if image.format == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale: no larger than needed
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ProposalError(_("This file is not a photo we can read. Use a JPEG, PNG or WebP image.")) from None
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    name = f"{secrets.token_urlsafe(18)}.jpg"
    image.save(os.path.join(photo_folder(), name), "JPEG", quality=80, optimize=True)
    return name


def discard_photo(name: str | None) -> None:
    """Remove a photo stored for a submission that was then refused: nothing is kept."""
    if name:
        try:
            os.remove(os.path.join(photo_folder(), name))
        except FileNotFoundError:
            pass
