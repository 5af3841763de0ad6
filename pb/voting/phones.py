"""Mobile numbers as residents type them, made the one form pb keeps and sends to: E.164.

07700 900123, +44 7700 900123, 0044 7700 900123 and +44 (0)7700 900123 are one number,
+447700900123. Only UK mobiles are taken (07 then 1-5, 7-9, or 07624): text messages go
through GOV.UK Notify, which sends to UK mobiles, and a landline cannot receive them.
"""

import re
import unicodedata


class NotAMobile(ValueError):
    """What was typed is not a UK mobile number; `landline` if it is a UK landline's."""

    def __init__(self, landline: bool = False):
        super().__init__("not a UK mobile number")
        self.landline = landline


SEPARATORS = re.compile(r"[\s\-().]")
MOBILE = re.compile(r"07(?:[1-57-9]\d{8}|624\d{6})")


def western_digits(text: str) -> str:
    """`text` with the digits of any script written 0-9: a phone keyboard in Arabic, Urdu or
    Bengali types its own, and a number or code typed so is the same number or code."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in unicodedata.normalize("NFKC", text))


def uk_mobile(text: str) -> str:
    """The number in E.164 (+447700900123); raises NotAMobile."""
    compact = SEPARATORS.sub("", western_digits(text or "").strip())
    if not re.fullmatch(r"\+?[0-9]{1,20}", compact):
        raise NotAMobile()
    for international in ("+44", "0044", "44"):
        if compact.startswith(international) and not (international == "44" and len(compact) != 12):
            compact = "0" + compact[len(international) :].removeprefix("0")  # +44 (0)7700 ...
            break
    if MOBILE.fullmatch(compact):
        return "+44" + compact[1:]
    raise NotAMobile(landline=bool(re.fullmatch(r"0[123]\d{8,9}", compact)))
