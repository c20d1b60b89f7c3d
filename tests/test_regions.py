"""GB/T 2260 locations (SPEC §12): complete, current and consistent, from python-stdnum's data."""

from __future__ import annotations

import pytest

from robopass import regions

#: The 31 provincial divisions of the mainland, and Taiwan, Hong Kong, Macau.
MAINLAND = ("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
            "61 62 63 64 65").split()


def test_every_province_is_known_with_an_english_name() -> None:
    assert set(regions.provinces()) == {f"{p}0000" for p in MAINLAND} | {
        "710000", "810000", "820000"}
    assert set(regions.PROVINCE_NAMES_EN) == set(regions.provinces())
    assert regions.name("650000", "zh_CN") == "新疆维吾尔自治区"
    assert regions.name("540000") == "Tibet"


def test_prefecture_level_cities_are_current_and_complete() -> None:
    cities = regions.cities()
    # every mainland province has at least one prefecture-level division
    assert {c[:2] for c in cities} == set(MAINLAND)
    assert cities["420600"] == "襄阳市"          # renamed from 襄樊市 in 2010
    assert cities["422800"] == "恩施土家族苗族自治州"
    assert cities["654000"] == "伊犁哈萨克自治州"
    assert cities["110100"] == "北京市"          # a municipality's district group
    assert "441000" not in cities                # Haikou under Guangdong, abolished 1988
    assert "449900" not in cities                # never existed
    assert "440106" not in cities                # a county-level district
    # roughly 333 prefecture-level divisions plus the municipalities' and provinces' groups
    assert 330 <= len(cities) <= 360
    assert all(c.endswith("00") and not c.endswith("0000") for c in cities)


@pytest.mark.parametrize(("province", "city", "field"), [
    ("650000", None, None), ("540000", "540100", None), ("450000", "450300", None),
    ("440000", "440300", None), (None, "110100", None), ("810000", None, None),
    ("990000", None, "province"), ("440300", None, "province"), ("440000", "449900", "city"),
    ("440000", "110100", "city"), ("440000", "440106", "city"), ("440000", "441000", "city"),
])
def test_location_problem(province: str | None, city: str | None, field: str | None) -> None:
    problem = regions.location_problem(province, city)
    assert (problem[0] if problem else None) == field


def test_former_api_is_kept() -> None:
    assert regions.PROVINCES["440000"] == ("广东省", "Guangdong")
    assert regions.CITIES["440300"] == ("深圳市", "Shenzhen")
    assert regions.province_of("440305") == "440000"
    assert regions.is_valid_division("650000") and regions.is_valid_division("440300")
    assert not regions.is_valid_division("449900")
    assert regions.name("not-a-code") == "not-a-code"


def test_the_demo_seed_places_units_in_real_cities() -> None:
    from robopass import seed

    for province, city, _ in seed.CITIES:
        assert regions.location_problem(province, city) is None
