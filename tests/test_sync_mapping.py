"""Our coin → Numista collected_item: field semantics, exclusions, schema validation, diffs and matching."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.integrations.numista.item_mapping import (
    ExportOptions,
    field_changes,
    find_remote_matches,
    map_coin,
    not_ours_to_change,
    note_to_comment,
    patch_body,
    payload_hash,
    validate_collected_item,
)
from services.store.models import Item
from tests.emulators.numista import request_body_schema

INSTALL = "0a1b2c3d4e5f"
OTHER_INSTALL = "f5e4d3c2b1a0"
OPTIONS = ExportOptions(currency="CHF", collection_id=1001, install_id=INSTALL)


def coin(**fields: Any) -> Item:
    values: dict[str, Any] = {
        "id": 7, "kind": "coin", "title": "5 Cents - Victoria", "quantity": 2, "status": "owned",
        "numista_type_id": 420, "numista_issue_id": 4201, "grade": "VF", "grade_code": "vf",
    }  # fmt: skip
    values.update(fields)
    return Item(**values)


def test_full_coin_maps_every_field_with_the_corrected_semantics() -> None:
    item = coin(
        acquired_price=Decimal("12.50"), acquired_currency="EUR", acquired_date=date(2021, 3, 4),
        acquired_place="Bourse de Paris", storage_location="Album 2, page 3", status="sale",
        notes="Bought from Jean.\n\n<!-- NUMISMAT_ENRICHMENT_DATA\n{\"basicData\": {\"numistaId\": 420}}\n-->",
        details={"weight": 1.16, "diameter": 15.49, "real_weight": 1.12, "real_diameter": 15.5, "axis": 180,
                 "price1": 5, "price4": 40, "saleprice": 99, "saleplace": "eBay", "saledate": "2022-01-01"},
    )  # fmt: skip
    mapped = map_coin(item, OPTIONS)
    assert mapped.exportable and mapped.problems == ()
    assert mapped.payload == {
        "type": 420, "issue": 4201, "quantity": 2, "grade": "vf", "for_swap": True,
        "price": {"value": 12.5, "currency": "EUR"}, "collection": 1001, "acquisition_date": "2021-03-04",
        "acquisition_place": "Bourse de Paris", "storage_location": "Album 2, page 3",
        "private_comment": "Bought from Jean.", "internal_id": f"vitrine:{INSTALL}:7", "weight": 1.12, "size": 15.5,
        "axis": 6,
    }  # fmt: skip
    assert set(mapped.omitted) == {"public_comment", "serial_number", "grading_details"}


def test_catalogue_values_are_never_sent_as_measurements_or_price() -> None:
    item = coin(details={"weight": 1.16, "diameter": 15.49, "price1": 5, "price2": 8, "price4": 40})
    mapped = map_coin(item, ExportOptions(currency="EUR", install_id=INSTALL))
    assert mapped.payload is not None
    assert not {"weight", "size", "price", "collection", "axis"} & set(mapped.payload)
    assert "catalogue weight" in mapped.omitted["weight"] and "catalogue diameter" in mapped.omitted["size"]
    assert "no buying price" in mapped.omitted["price"] and "default collection" in mapped.omitted["collection"]


def test_price_uses_the_users_currency_when_none_was_recorded_and_skips_zero() -> None:
    assert map_coin(coin(acquired_price=Decimal("3")), OPTIONS).payload["price"] == {"value": 3, "currency": "CHF"}
    zero = map_coin(coin(acquired_price=Decimal("0")), OPTIONS)
    assert "price" not in zero.payload and "0" in zero.omitted["price"]


@pytest.mark.parametrize("status", ["wish", "sold", "pass", "demo", "bidding"])
def test_items_not_held_are_excluded_with_a_reason(status: str) -> None:
    mapped = map_coin(coin(status=status), OPTIONS)
    assert mapped.payload is None and not mapped.exportable
    assert status in (mapped.excluded or "")


def test_coins_without_a_numista_type_and_non_coins_are_excluded() -> None:
    assert "no Numista type" in (map_coin(coin(numista_type_id=None), OPTIONS).excluded or "")
    assert "not a coin" in (map_coin(coin(kind="record"), OPTIONS).excluded or "")


def test_grade_precedence_override_then_mapping_then_stored_code() -> None:
    assert map_coin(coin(grade="SS"), OPTIONS).payload["grade"] == "vf"  # German "sehr schön"
    assert map_coin(coin(grade="SS"), OPTIONS, {"grade": "xf"}).payload["grade"] == "xf"  # per-coin override
    users = ExportOptions(grade_overrides={"ss": "f"}, install_id=INSTALL)
    assert map_coin(coin(grade="SS"), users).payload["grade"] == "f"  # the user's mapping table
    assert map_coin(coin(grade="Proof", grade_code="unc"), OPTIONS).payload["grade"] == "unc"  # stored code
    unmapped = map_coin(coin(grade="Proof", grade_code=None), OPTIONS)
    assert "grade" not in unmapped.payload and "Proof" in unmapped.omitted["grade"]


def test_for_swap_comes_from_status_sale_or_the_checkbox() -> None:
    assert map_coin(coin(status="owned"), OPTIONS).payload["for_swap"] is False
    assert map_coin(coin(status="sale"), OPTIONS).payload["for_swap"] is True
    assert map_coin(coin(status="owned"), OPTIONS, {"for_swap": True}).payload["for_swap"] is True


def test_internal_id_names_the_installation_and_the_item_opt_out_and_copies() -> None:
    opted_out = map_coin(coin(), ExportOptions(use_internal_id=False))
    assert "internal_id" not in opted_out.payload and "opted out" in opted_out.omitted["internal_id"]
    assert map_coin(coin(), OPTIONS).payload["internal_id"] == f"vitrine:{INSTALL}:7"
    copy = map_coin(coin(), ExportOptions(copy_tag="job3", install_id=INSTALL))
    assert copy.payload["internal_id"] == f"vitrine:{INSTALL}:7/job3"
    with pytest.raises(ValueError, match="install_id"):
        map_coin(coin(), ExportOptions())  # a marker without the installation is never written


def test_rich_text_notes_become_plain_text_without_the_metadata_block() -> None:
    note = "<html><body><p>First &amp; best</p><p>line two</p></body></html>"
    assert note_to_comment(note) == "First & best\nline two"
    assert note_to_comment("<!-- NUMISMAT_ENRICHMENT_DATA\n{}\n-->") is None
    assert note_to_comment("  plain  ") == "plain"


def test_axis_only_when_an_exact_clock_position() -> None:
    assert map_coin(coin(details={"axis": 0}), OPTIONS).payload["axis"] == 12
    assert map_coin(coin(details={"axis": 90}), OPTIONS).payload["axis"] == 3
    odd = map_coin(coin(details={"axis": 100}), OPTIONS)
    assert "axis" not in odd.payload and "100°" in odd.omitted["axis"]


def test_validation_catches_what_numista_would_reject() -> None:
    assert validate_collected_item({"type": 420}) == []
    problems = validate_collected_item(
        {"type": "420", "grade": "ms", "axis": 13, "acquisition_date": "2021-13-01", "quantity": 0,
         "price": {"value": 3}, "grading_details": {}}
    )  # fmt: skip
    text = " | ".join(problems)
    for expected in ("type", "grade", "axis", "acquisition_date", "quantity", "price", "grading_company"):
        assert expected in text, (expected, text)
    assert validate_collected_item({"issue": None, "grade": None, "price": None}, "PATCH") == []
    assert validate_collected_item({"grade": None}, "POST") != []


def test_our_packaged_schema_agrees_with_the_reference_spec_the_emulator_uses() -> None:
    """The app's own checks (validate_collected_item) and the emulator's plain JSON Schema of Numista's swagger
    give the same verdicts (tests/test_self_contained.py pins that swagger to Numista's published bytes)."""
    import jsonschema

    reference = jsonschema.Draft7Validator(
        request_body_schema("/users/{user_id}/collected_items", "POST"), format_checker=jsonschema.FormatChecker()
    )
    samples = [
        map_coin(coin(acquired_price=Decimal("1.5"), acquired_date=date(2020, 1, 1), details={"real_weight": 2}),
                 OPTIONS).payload,
        {"type": 1, "grade": "bad"}, {"type": 1, "price": {"value": "x", "currency": "EUR"}}, {"issue": 3},
    ]  # fmt: skip
    for sample in samples:
        assert (validate_collected_item(sample) == []) == reference.is_valid(sample), sample


def test_field_changes_and_patch_body_send_only_what_differs() -> None:
    payload = map_coin(coin(acquired_price=Decimal("5"), storage_location="Box"), OPTIONS).payload
    remote = {
        "id": 99, "quantity": 2, "for_swap": False, "grade": "f", "issue": {"id": 4201, "year": 1880},
        "type": {"id": 420, "title": "x", "category": "coin"}, "collection": {"id": 1001, "name": "Euro"},
        "price": {"value": 5.0, "currency": "CHF"}, "storage_location": "Old box", "acquisition_place": "Basel",
        "internal_id": f"vitrine:{INSTALL}:7",
    }  # fmt: skip
    changes = {change.field: change for change in field_changes(payload, remote)}
    assert set(changes) == {"grade", "storage_location", "acquisition_place"}
    assert changes["acquisition_place"].kept  # the API cannot clear it: shown, not sent
    assert patch_body(payload, remote) == {"grade": "vf", "storage_location": "Box"}
    no_price = map_coin(coin(), OPTIONS).payload
    assert patch_body(no_price, remote)["price"] is None  # nullable: cleared
    assert validate_collected_item(patch_body(no_price, remote), "PATCH") == []
    assert patch_body(payload, {**remote, "grade": "vf", "storage_location": "Box"}) == {}


def _ids(found: list[Any]) -> list[int]:
    return [item["id"] for item in found]


def test_matching_by_our_exact_marker_or_by_type_issue_grade_price_and_never_another_type() -> None:
    ours, legacy, theirs = f"vitrine:{INSTALL}:7", "vitrine:7", f"vitrine:{OTHER_INSTALL}:7"
    same = {"type": {"id": 420}, "issue": {"id": 4201}, "grade": "vf"}
    remote = [
        {"id": 3, **same, "internal_id": theirs},  # another installation's item 7
        {"id": 5, **same, "internal_id": legacy},  # written before markers named the installation
        {"id": 6, **same, "internal_id": ours},
        {"id": 7, "type": {"id": 11331}, "grade": "vf", "internal_id": ours},  # our marker, typed onto another coin
        {"id": 8, **same},  # no marker at all
        {"id": 4, **same, "price": {"value": 2, "currency": "EUR"}},
    ]  # fmt: skip
    payload = map_coin(coin(), OPTIONS).payload
    assert _ids(find_remote_matches(payload, remote)) == [6]
    assert _ids(find_remote_matches(payload, remote, also_ours=[legacy])) == [5, 6]  # with our outbox's word
    assert _ids(find_remote_matches(payload, remote, exclude_ids={"6"})) == []  # linked to another of our coins
    other_install = map_coin(coin(), ExportOptions(currency="CHF", collection_id=1001, install_id=OTHER_INSTALL))
    assert _ids(find_remote_matches(other_install.payload, remote)) == [3]
    plain = map_coin(coin(), ExportOptions(use_internal_id=False)).payload
    assert _ids(find_remote_matches(plain, remote)) == [8]  # unmarked: we sent no marker, so ours has none
    assert _ids(find_remote_matches(plain, remote, exclude_ids={8})) == []
    priced = {**plain, "price": {"value": 2, "currency": "EUR"}}
    assert _ids(find_remote_matches(priced, remote)) == [4]
    assert _ids(find_remote_matches({**plain, "type": 11331, "issue": None}, remote)) == []


def test_an_update_never_changes_a_remote_item_of_another_type_or_another_installation() -> None:
    payload = map_coin(coin(), OPTIONS).payload
    base = {"id": 9, "type": {"id": 420}, "issue": {"id": 4201}, "grade": "f"}
    assert not_ours_to_change(payload, {**base, "internal_id": f"vitrine:{INSTALL}:7"}, 7) is None
    assert not_ours_to_change(payload, {**base, "internal_id": "vitrine:7"}, 7) is None  # ours, recorded by id
    assert not_ours_to_change(payload, base, 7) is None  # opted out when pushed: no marker
    assert not_ours_to_change(payload, {**base, "internal_id": "box 12"}, 7) is None  # the user's own text
    assert not_ours_to_change(payload, None, 7) is None  # nothing known yet: the push checks the live item
    other_type = not_ours_to_change(payload, {**base, "type": {"id": 11331}}, 7)
    assert other_type and "N# 11331" in other_type and "left unchanged" in other_type
    for marker in (f"vitrine:{OTHER_INSTALL}:7", "vitrine:8", f"vitrine:{INSTALL}:8"):
        assert "not this coin's" in (not_ours_to_change(payload, {**base, "internal_id": marker}, 7) or ""), marker


def test_payload_hash_is_stable_and_order_independent() -> None:
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})
