"""China's administrative division codes (GB/T 2260) for unit and company locations.

The divisions come from python-stdnum's ``stdnum/cn/loc.dat`` (a maintained copy of the
GB/T 2260 tables, also used by ``stdnum.cn.ric``), not from a hand-typed list. It holds each
province (``NN0000``), each prefecture-level division (``NNMM00``) and county, with the years a
code was in use (``[1988-]`` still current, ``[-2010]`` abolished; a renamed code lists its
names oldest first). We keep:

* every current province-level division: the 31 provinces, autonomous regions and
  municipalities, Taiwan, Hong Kong and Macau (34);
* every current prefecture-level division (cities, prefectures, leagues, autonomous
  prefectures, a municipality's ``市辖区``/``县`` groups and the provinces' "directly
  administered county-level" groups such as 429000).

A location is a province, optionally with a city; the city must lie in the province.
Abolished codes (e.g. 441000, Haikou under Guangdong until 1988), invented ones (449900) and
county-level codes are refused. English names exist for the provinces and the larger cities;
other cities show their Chinese name in every locale.
"""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum import numdb

#: English names of the province-level divisions (display only: which codes exist comes from
#: the data file; a test checks this table covers exactly the provinces found there).
PROVINCE_NAMES_EN: dict[str, str] = {
    "110000": "Beijing", "120000": "Tianjin", "130000": "Hebei", "140000": "Shanxi",
    "150000": "Inner Mongolia", "210000": "Liaoning", "220000": "Jilin",
    "230000": "Heilongjiang", "310000": "Shanghai", "320000": "Jiangsu", "330000": "Zhejiang",
    "340000": "Anhui", "350000": "Fujian", "360000": "Jiangxi", "370000": "Shandong",
    "410000": "Henan", "420000": "Hubei", "430000": "Hunan", "440000": "Guangdong",
    "450000": "Guangxi", "460000": "Hainan", "500000": "Chongqing", "510000": "Sichuan",
    "520000": "Guizhou", "530000": "Yunnan", "540000": "Tibet", "610000": "Shaanxi",
    "620000": "Gansu", "630000": "Qinghai", "640000": "Ningxia", "650000": "Xinjiang",
    "710000": "Taiwan", "810000": "Hong Kong", "820000": "Macau",
}
#: English names of the cities the demo and the pilot centres use (display only).
CITY_NAMES_EN: dict[str, str] = {
    "110100": "Beijing", "120100": "Tianjin", "130100": "Shijiazhuang", "210100": "Shenyang",
    "310100": "Shanghai", "320100": "Nanjing", "320500": "Suzhou", "330100": "Hangzhou",
    "330200": "Ningbo", "340100": "Hefei", "350200": "Xiamen", "370200": "Qingdao",
    "420100": "Wuhan", "430100": "Changsha", "440100": "Guangzhou", "440300": "Shenzhen",
    "440600": "Foshan", "441900": "Dongguan", "500100": "Chongqing", "510100": "Chengdu",
    "610100": "Xi'an",
}

#: ``[from-to]`` in front of a name: the years the code was in use (``to`` empty = current).
_YEARS = re.compile(r"^\[(\d*)-(\d*)\]")
#: Names of a municipality's (or province's) groups, shown as the province's name.
_GROUPS = ("市辖区", "县")


def _current_name(raw: str) -> str | None:
    """The latest name without its year range, or None when the code is no longer in use.

    A renamed division lists its names oldest first: ``[-2009]襄樊市,[2010-]襄阳市``."""
    raw = raw.split(",")[-1]
    match = _YEARS.match(raw)
    if match is None:
        return raw
    return None if match.group(2) else raw[match.end():]


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(province code → Chinese name, prefecture-level code → Chinese name), current only."""
    provinces: dict[str, str] = {}
    cities: dict[str, str] = {}
    for _length, low, _high, props, children in numdb.get("cn/loc").prefixes:
        province = f"{low}0000"
        provinces[province] = props["province"]
        for _c_length, c_low, c_high, c_props, _counties in children:
            current = _current_name(c_props.get("county", ""))
            if current is None or c_low != c_high or not c_low.endswith("00"):
                continue
            if c_low == "0000":
                provinces[province] = current  # the current (simplified) form of the name
            else:
                cities[f"{low}{c_low}"] = provinces[province] if current in _GROUPS else current
    return provinces, cities


def provinces() -> dict[str, str]:
    """Current province-level divisions: code → Chinese name."""
    return _tables()[0]


def cities() -> dict[str, str]:
    """Current prefecture-level divisions: code → Chinese name."""
    return _tables()[1]


def province_of(code: str | None) -> str | None:
    """The province code (``NN0000``) of any well-formed division code."""
    if not code or len(code) != 6 or not code.isdigit():
        return None
    return code[:2] + "0000"


def is_province(code: str | None) -> bool:
    return code is not None and code in provinces()


def is_city(code: str | None) -> bool:
    return code is not None and code in cities()


def is_valid_division(code: str | None) -> bool:
    """A current province or prefecture-level city (SPEC §12)."""
    return is_province(code) or is_city(code)


def location_problem(province: str | None, city: str | None) -> tuple[str, str] | None:
    """Why ``(province, city)`` is not a location, as ``(field, message)``; None when it is.

    Either may be None (unknown); a city given without a province only has to exist."""
    if province is not None and not is_province(province):
        return "province", (f"{province!r} is not a GB/T 2260 province-level division code"
                            " (e.g. 440000)")
    if city is not None:
        if not is_city(city):
            return "city", (f"{city!r} is not a GB/T 2260 prefecture-level city code"
                            " (e.g. 440300)")
        if province is not None and province_of(city) != province:
            return "city", f"city {city} does not lie in province {province}"
    return None


def name(code: str | None, locale: str = "en") -> str:
    """Display name of a province or city (English where known, else Chinese); the code
    itself when it is not a division."""
    if code is None:
        return ""
    zh = provinces().get(code) or cities().get(code)
    if zh is None:
        return code
    if locale.startswith("zh"):
        return zh
    return PROVINCE_NAMES_EN.get(code) or CITY_NAMES_EN.get(code) or zh


def _with_english(table: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {code: (zh, name(code, "en")) for code, zh in sorted(table.items())}


#: code → (Chinese name, English name), kept for callers of the former module.
PROVINCES: dict[str, tuple[str, str]] = _with_english(provinces())
CITIES: dict[str, tuple[str, str]] = _with_english(cities())
