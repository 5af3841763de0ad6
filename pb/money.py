"""Amounts of money as pb keeps them: whole minor units (pence), in 64-bit integers.

The rules here are the domain's, not a form's: services check amounts against
MAX_AMOUNT, and the form fields (pb.fields) take the same limit from here.
"""

from sqlalchemy import BigInteger, Integer

MAX_AMOUNT = 100_000_000_00  # £100 million in pence: more is surely a typing mistake

# A money column: whole pence, up to MAX_AMOUNT and sums of such amounts, so 64-bit in
# PostgreSQL. SQLite's INTEGER is 64-bit already.
MONEY = BigInteger().with_variant(Integer(), "sqlite")
