"""Photos of proposals: checked to be real images, re-encoded (which drops hidden data
such as the camera's location), shrunk, and stored under the instance folder."""

import contextlib
import os
import re
import secrets
import time
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


def held_folder() -> str:
    """Photos chosen on a form that came back with a mistake, kept for the next attempt
    (so nobody has to choose the photo again); not part of any proposal until it is saved."""
    folder = os.path.join(current_app.instance_path, "uploads", "held-photos")
    os.makedirs(folder, exist_ok=True)
    return folder


HELD_FOR = 24 * 3600  # seconds a held photo waits for its form to be sent again
# "<user id>-<random>.jpg": each person has at most one held photo (the latest they chose).
HELD_NAME = re.compile(r"^[0-9]{1,12}-[A-Za-z0-9_-]{24}\.jpg$")


def hold_photo(upload, owner: int) -> str:
    """Check a photo and keep it for the form's next attempt, in place of any photo `owner`
    had held before; return its file name. Raises ProposalError. Held photos older than
    HELD_FOR are removed on the way, so the folder holds at most one a person, for a day."""
    folder = held_folder()
    cutoff = time.time() - HELD_FOR
    for name in os.listdir(folder):
        try:
            if name.startswith(f"{owner}-") or os.path.getmtime(os.path.join(folder, name)) < cutoff:
                os.remove(os.path.join(folder, name))
        except FileNotFoundError:
            pass
    return store_photo(upload, folder, prefix=f"{owner}-")


def is_held(name: str | None) -> bool:
    return name is not None and bool(HELD_NAME.match(name)) and os.path.isfile(os.path.join(held_folder(), name))


def adopt_photo(name: str) -> str:
    """A held photo becomes the proposal's (its form was saved)."""
    os.replace(os.path.join(held_folder(), name), os.path.join(photo_folder(), name))
    return name


def store_photo(upload, folder: str | None = None, prefix: str = "") -> str:
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
                raise ProposalError(
                    _(
                        "The photo has too many pixels: make it at most %(megapixels)d megapixels.",
                        megapixels=MAX_PIXELS[image.format] // 1_000_000,
                    )
                )
            if image.format == "JPEG":
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale: no larger than needed
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ProposalError(_("This file is not a photo we can read. Use a JPEG, PNG or WebP image.")) from None
    picture = image.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    name = f"{prefix}{secrets.token_urlsafe(18)}.jpg"
    picture.save(os.path.join(folder or photo_folder(), name), "JPEG", quality=80, optimize=True)
    return name


def discard_photo(name: str | None) -> None:
    """Remove a photo stored for a submission that was then refused: nothing is kept."""
    if name:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(photo_folder(), name))
