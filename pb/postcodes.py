"""UK postcodes as pb reads them: whole ones ('LS6 1AA') and beginnings ('LS6', 'LS6 1')."""

import re

POSTCODE = re.compile(r"^[A-Z]{1,2}(?:[0-9][A-Z0-9]?(?: [0-9](?:[A-Z]{2})?)?)?$")
FULL_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


def normalise_postcode(text: str) -> str:
    """'sw1a1aa' -> 'SW1A 1AA'; prefixes ('LS11', 'LS7 3') are kept as typed, in capitals."""
    postcode = " ".join(text.upper().split())
    if " " not in postcode and len(postcode) >= 5 and postcode[-3].isdigit() and postcode[-2:].isalpha():
        return f"{postcode[:-3]} {postcode[-3:]}"
    return postcode
