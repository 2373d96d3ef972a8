"""Grade overrides editor (Settings page): how each grade text of your coins maps to a Numista grade, and your
own choice where the automatic mapping is wrong or refuses to guess. UI only: saving goes through
services.integrations.numista.grade_overrides, which also re-maps the coins already imported."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.context import AppContext
from services.errors import VitrineError
from services.integrations.numista.grade_overrides import (
    CHOICES,
    apply_grade_overrides,
    grade_rows,
    save_grade_overrides,
)
from ui import cache
from ui.session import Actor

_FLASH = "grade_overrides_flash"


def _choice(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def grade_overrides_editor(context: AppContext, actor: Actor) -> None:
    """Render the override table; rows can be added for grade texts not in the collection yet."""
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        st.success(flash)
    with context.session() as session:
        rows = grade_rows(session, actor.id)
    frame = pd.DataFrame(
        [{"grade text": r.raw, "coins": r.coins, "automatic": r.automatic, "your choice": r.override} for r in rows],
        columns=["grade text", "coins", "automatic", "your choice"],
    )
    st.caption(
        "Numista knows only g, vg, f, vf, xf, au and unc. Grades Vitrine cannot place without guessing are "
        "'unmapped' (listed first). Your choice wins in imports, values and Numista exports; 'unmapped' forces it."
    )
    edited = st.data_editor(
        frame,
        key="grade_overrides_editor",
        num_rows="dynamic",
        hide_index=True,
        column_config={
            "grade text": st.column_config.TextColumn(required=True, max_chars=120),
            "coins": st.column_config.NumberColumn(disabled=True),
            "automatic": st.column_config.TextColumn(disabled=True),
            "your choice": st.column_config.SelectboxColumn(options=list(CHOICES)),
        },
    )
    if st.button("Save grade overrides", key="save_grade_overrides"):
        overrides = {
            str(row["grade text"]): _choice(row["your choice"])
            for row in edited.to_dict("records")
            if _choice(row["grade text"]) and _choice(row["your choice"])
        }
        try:
            with context.session() as session:
                saved = save_grade_overrides(session, actor.id, overrides)
                changed = apply_grade_overrides(session, actor.id)
        except VitrineError as error:
            st.error(error.message)
            return
        cache.invalidate()
        st.session_state[_FLASH] = f"Saved {saved} override(s); {changed} coin(s) re-mapped."
        st.rerun()
