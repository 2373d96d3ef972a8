"""Input widgets shared by every page, so a kind of value looks and reads the same everywhere. UI only.

Money is typed as text and read by services.validation.parse_money (the rule the command line uses too): a
number widget would read "12,50" as 1250 in the browser, a price 100 times off, where the text is refused in
one line. Dates are shown day/month/year on every page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import streamlit as st

from services.validation import typed_money

DATE_FORMAT = "DD/MM/YYYY"  # st.date_input's format= on every page


def money_input(label: str, *, value: Decimal | None = None, key: str, placeholder: str = "not set",
                where: Any = st, help: str | None = None) -> str:  # fmt: skip
    """A money field: the text as typed (parse it with services.validation.parse_money when the form is sent; an
    empty field is no amount). ``where`` is the column or container it goes in."""
    return str(where.text_input(label, value=typed_money(value), placeholder=placeholder, key=key, help=help))
