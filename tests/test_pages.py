"""Every page through app.py with Streamlit's AppTest: renders real data, no exception, actions work."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import create_user, ensure_local_user
from services.collection import add_item, list_items
from services.context import open_context
from services.demo import load_demo
from tests.club_support import sign_in, start_club, submit_sign_in

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["collection", "sets", "catalog", "import", "export", "connections", "settings"]


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def demo_app(app_env: str) -> AppTest:
    at = start()
    at.button(key="load_demo").click().run()
    assert not at.exception, at.exception
    return at


def test_empty_collection_offers_the_demo_and_loads_it(app_env: str) -> None:
    at = start()
    assert "empty" in at.info[0].value
    at.button(key="load_demo").click().run()
    assert not at.exception
    labels = {metric.label: metric.value for metric in at.metric}
    assert labels["Items (copies)"] != "0"
    assert labels["Entries without a price"] == "1"
    assert "EUR" in labels["Estimated value"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_demo_data(demo_app: AppTest, page: str) -> None:
    demo_app.switch_page(f"pages/{page}.py").run()
    assert not demo_app.exception, demo_app.exception
    assert demo_app.title[0].value


def test_collection_page_filters_and_shows_values(demo_app: AppTest) -> None:
    at = demo_app.switch_page("pages/collection.py").run()
    at.selectbox(key="collection_kind").select("record").run()
    table = at.dataframe[0].value
    assert len(table) == 5 and {"Artist", "Format", "Media"} <= set(table.columns)
    assert table["Value"].str.endswith(" EUR").all()


@pytest.mark.parametrize("kind", ["all", "coin", "record", "card"])
def test_an_empty_note_stays_empty_through_edit_and_save(demo_app: AppTest, app_env: str, kind: str) -> None:
    """Regression: with notes elsewhere on the page, an empty note was shown and saved as the text "nan"."""
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        items = [i for i in list_items(session, owner.id) if kind in ("all", i.kind)]
        blank = next(i for i in items if not i.notes)
        noted = next(i for i in items if i.id != blank.id)
        noted.notes = "bought at the fair"
        session.commit()
        blank_id, page_kinds = blank.id, {i.kind for i in items}
    at = demo_app.switch_page("pages/collection.py").run()
    at.selectbox(key="collection_kind").select(kind).run()
    assert page_kinds and not at.exception
    at.text_input(key="edit_search").input(f"#{blank_id}").run()
    at.selectbox(key="edit_item_id").select(blank_id).run()
    assert at.text_area(key=f"edit_{blank_id}_v1_notes").value == ""
    at.number_input(key=f"edit_{blank_id}_v1_quantity").set_value(3)
    at.button[[b.label for b in at.button].index("Save changes")].click().run()
    assert not at.exception, at.exception
    with context.session() as session:
        saved = next(i for i in list_items(session, ensure_local_user(session).id) if i.id == blank_id)
        assert saved.quantity == 3 and saved.notes in (None, "")


def test_catalog_search_and_add_a_card(demo_app: AppTest) -> None:
    at = demo_app.switch_page("pages/catalog.py").run()
    at.text_input(key="catalog_query").input("Pikachu")
    at.selectbox(key="catalog_set").select("base2").run()  # Jungle: not in the demo collection
    results = at.dataframe[0].value
    assert len(results) > 0 and results["name"].str.contains("Pikachu").all()
    card_id = results["id"].iloc[0]
    at.selectbox(key="add_card_id").select(card_id)
    at.number_input(key="add_card_quantity").set_value(3)
    at.button[-1].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert at.success and at.success[0].value.startswith("Added 3 copies of Pikachu")
    context = open_context()
    with context.session() as session:
        owner_items = list_items(session, 1)
        assert any(i.pokemontcg_card_id == card_id and i.quantity == 3 for i in owner_items)


def test_sets_page_shows_completion_binder_and_groups(demo_app: AppTest) -> None:
    at = demo_app.switch_page("pages/sets.py").run()
    sets = at.dataframe[0].value
    team_rocket = sets.set_index("id").loc["base5"]
    assert team_rocket["All cards"] == 83 and team_rocket["Printed total"] == 82
    at.selectbox(key="binder_set").select("base5").run()
    assert f"{team_rocket['Unique cards']} of 83 cards owned" in " ".join(c.value for c in at.caption)
    at.segmented_control(key="binder_show").set_value("Missing").run()
    assert not at.exception, at.exception
    missing = [b for b in at.button if b.key and b.key.startswith("binder_add_")]
    assert len(missing) == 18  # one binder page of missing cards, each with its Add button
    card_id = missing[0].key.removeprefix("binder_add_")
    missing[0].click().run()
    assert not at.exception, at.exception
    assert at.success and at.success[0].value.startswith("Added ")
    with open_context().session() as session:
        assert any(i.pokemontcg_card_id == card_id for i in list_items(session, 1))
    frames = {frame.value.columns[0]: frame.value for frame in at.dataframe}
    by_country, by_series = frames["Country"], frames["Series"]
    assert by_country["Copies"].sum() == by_series["Copies"].sum() == 21  # the demo's coins
    assert "2 Euro" in set(by_series["Series"])
    assert by_series["Value"].str.endswith(" EUR").all()


def test_the_binder_adds_a_wished_card_as_owned_and_leaves_the_wish(demo_app: AppTest) -> None:
    """A wished card is missing from the binder; its Add makes an owned entry (the card shows as owned) and
    the wish entry stays as it was, as the flash says."""
    at = demo_app.switch_page("pages/sets.py").run()
    at.selectbox(key="binder_set").select("base5").run()
    at.segmented_control(key="binder_show").set_value("Missing").run()
    card_id = next(b.key for b in at.button if b.key and b.key.startswith("binder_add_")).removeprefix("binder_add_")
    with open_context().session() as session:
        wish = add_item(session, 1, kind="card", title="on my list", pokemontcg_card_id=card_id, grade="NM",
                        printing=None, language="en", status="wish").id  # fmt: skip
        session.commit()
    at.button(key=f"binder_add_{card_id}").click().run()
    assert not at.exception, at.exception
    assert at.success and f"It is also on your wish list (entry #{wish}), left as it is." in at.success[0].value
    with open_context().session() as session:
        entries = [i for i in list_items(session, 1) if i.pokemontcg_card_id == card_id]
    assert sorted((i.status, i.quantity) for i in entries) == [("owned", 1), ("wish", 1)]
    assert f"binder_add_{card_id}" not in {b.key for b in at.button}  # owned now: no Add button


def test_connections_page_stores_a_key_encrypted_and_masks_it(demo_app: AppTest) -> None:
    at = demo_app.switch_page("pages/connections.py").run()
    at.text_input(key="key_numista").input("numista-secret-key-1234")
    at.button[0].click().run()  # the numista form's submit
    assert not at.exception, at.exception
    shown = " ".join(element.value for element in at.success)
    assert "1234" in shown and "numista-secret-key" not in shown


def test_club_mode_requires_login_and_scopes_data(club_app_env: str) -> None:
    context = open_context()
    with context.session() as session:
        ann = create_user(session, "ann", "ann's long password")
        create_user(session, "bob", "bob's long password")
        load_demo(session, ann.id)
    at = start_club()
    assert not at.metric, "nothing is shown before signing in"
    submit_sign_in(at, "bob", "wrong password")
    assert at.error and "Wrong username or password" in at.error[0].value
    sign_in(at, "bob", "bob's long password")
    assert "empty" in at.info[0].value, "bob sees none of ann's demo items"


def test_every_url_path_is_its_file_name() -> None:
    """An address names a page by its file's name (a page run without app.py sends its own name on: ui.session)."""
    import ast

    source = Path(APP).read_text()
    lists = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in {"MEMBER_PAGES", "ADMIN_PAGES"}
    }  # fmt: skip
    names = [name for name, _title, _icon in lists["MEMBER_PAGES"] + lists["ADMIN_PAGES"]]
    assert len(names) == 11 and all((Path(APP).parent / "pages" / f"{name}.py").is_file() for name in names)
    assert 'st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=name)' in source  # one name for both
