"""China's administrative division codes (GB/T 2260) used for unit and company locations.

A subset: the provinces and cities where the demo registry and the pilot centres operate. Any
6-digit code whose province part is listed is accepted.
"""

from __future__ import annotations

#: code → (Chinese name, English name)
PROVINCES: dict[str, tuple[str, str]] = {
    "110000": ("北京市", "Beijing"),
    "120000": ("天津市", "Tianjin"),
    "130000": ("河北省", "Hebei"),
    "210000": ("辽宁省", "Liaoning"),
    "310000": ("上海市", "Shanghai"),
    "320000": ("江苏省", "Jiangsu"),
    "330000": ("浙江省", "Zhejiang"),
    "340000": ("安徽省", "Anhui"),
    "350000": ("福建省", "Fujian"),
    "370000": ("山东省", "Shandong"),
    "420000": ("湖北省", "Hubei"),
    "430000": ("湖南省", "Hunan"),
    "440000": ("广东省", "Guangdong"),
    "500000": ("重庆市", "Chongqing"),
    "510000": ("四川省", "Sichuan"),
    "610000": ("陕西省", "Shaanxi"),
}

CITIES: dict[str, tuple[str, str]] = {
    "110100": ("北京市", "Beijing"),
    "120100": ("天津市", "Tianjin"),
    "130100": ("石家庄市", "Shijiazhuang"),
    "210100": ("沈阳市", "Shenyang"),
    "310100": ("上海市", "Shanghai"),
    "320100": ("南京市", "Nanjing"),
    "320500": ("苏州市", "Suzhou"),
    "330100": ("杭州市", "Hangzhou"),
    "330200": ("宁波市", "Ningbo"),
    "340100": ("合肥市", "Hefei"),
    "350200": ("厦门市", "Xiamen"),
    "370200": ("青岛市", "Qingdao"),
    "420100": ("武汉市", "Wuhan"),
    "430100": ("长沙市", "Changsha"),
    "440100": ("广州市", "Guangzhou"),
    "440300": ("深圳市", "Shenzhen"),
    "441900": ("东莞市", "Dongguan"),
    "500100": ("重庆市", "Chongqing"),
    "510100": ("成都市", "Chengdu"),
    "610100": ("西安市", "Xi'an"),
}


def province_of(code: str | None) -> str | None:
    """The province code (``NN0000``) of any division code."""
    if not code or len(code) != 6 or not code.isdigit():
        return None
    return code[:2] + "0000"


def is_valid_division(code: str) -> bool:
    return province_of(code) in PROVINCES


def name(code: str | None, locale: str = "en") -> str:
    if code is None:
        return ""
    entry = CITIES.get(code) or PROVINCES.get(code)
    if entry is None:
        return code
    return entry[0] if locale.startswith("zh") else entry[1]
