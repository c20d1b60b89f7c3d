"""Robot identity code (robopass 29-character code, SPEC §2).

Every humanoid robot registered with robopass carries a 29-character identity
code. In compact form it is 29 characters of the alphabet ``0-9A-Z``; positions
are 1-based:

==========  ===========  ==========================================================
positions   part         content
==========  ===========  ==========================================================
1-2         country      ISO 3166-1 alpha-2 code of the issuing registry (``CN``)
3-6         company      company code assigned by the registry (no I, O or Q)
7-12        model        product model code assigned at filing (no I, O or Q)
13-16       month        production month ``YYMM`` (year 20YY, month 01-12)
17-18       plant        the manufacturer's plant code (no I, O or Q)
19          level        evaluated intelligence level ``0``-``5``
20          class        hardware class, one of ``B W U S X`` (see HARDWARE_CLASSES)
21-28       sequence     decimal, zero-padded, ``00000001`` upwards
29          check        ISO 7064 MOD 37,36 check character over positions 1-28
==========  ===========  ==========================================================

The display form groups the code as ``CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS``
(2-4-6-17 characters). Input is normalised by removing spaces and hyphens,
stripping surrounding white space and upper-casing ASCII letters (other
characters are kept as they are, so that they are reported, not folded into a
look-alike ASCII letter).

Validation checks, in this order, and raises the first failure as a subclass
of :class:`InvalidCode` that names the 1-based position in the compact form:
length, characters, country, I/O/Q in company/model/plant, month, level,
class, sequence digits, check character.

The check character is ISO 7064 MOD 37,36 (a hybrid system), as computed by
python-stdnum's ``stdnum.iso7064.mod_37_36``. Its per-character loop runs at
about 250,000-320,000 codes/s on the 2-core reference machine, below the
300,000 codes/s SPEC §11 asks of the whole validation, so this module
tabulates the same algorithm: the 36 x 36 state transition table and
the 36 final check characters are filled in at import time by calling
``mod_37_36`` itself (after the single character ``A[s]`` its state is
exactly ``s``, so ``mod_37_36.checksum(A[s] + A[v])`` is the transition from
state ``s`` on character ``v``). The tests prove, with hypothesis, that the
table gives the same ``calc_check_digit`` and ``is_valid`` results as stdnum on
random strings; stdnum stays the reference. validate() takes a fast path (one
regular expression, a set lookup and the table) and runs the ordered checks
only to name the fault of an invalid code. For issuance, prefix() checks
positions 1-20 once and build_many() appends sequence and check character in
well under a microsecond a code.

>>> validate('CN-H7K2-A3B5C7-2603P13B000000429')
'CNH7K2A3B5C72603P13B000000429'
>>> validate('cn h7k2 a3b5c7 2603p13b000000429')
'CNH7K2A3B5C72603P13B000000429'
>>> format('CNH7K2A3B5C72603P13B000000429')
'CN-H7K2-A3B5C7-2603P13B000000429'
>>> is_valid('CNH7K2A3B5C72603P13B00000042S')
False
>>> validate('CNH7K2A3B5C72603P13B00000042S')
Traceback (most recent call last):
    ...
robopass.idcode.InvalidChecksum: position 29: the check character 'S' does not match \
positions 1-28 (ISO 7064 MOD 37,36)
>>> validate('CNH7K2A3B5C72613P13B000000429')
Traceback (most recent call last):
    ...
robopass.idcode.InvalidMonth: positions 15-16: month '13' is not 01-12
>>> validate('CNH7KOA3B5C72603P13B000000429')
Traceback (most recent call last):
    ...
robopass.idcode.InvalidComponent: position 6: 'O' is not allowed in the company code \
(positions 3-6); I, O and Q are never used
>>> code = parse('CNH7K2A3B5C72603P13B000000429')
>>> code.production_year, code.production_month, code.hardware_class, code.sequence
(2026, 3, 'B', 42)
>>> code.as_dict()['production_month']
'2026-03'
>>> build(country='CN', company='H7K2', model='A3B5C7', year=2026, month=3, plant='P1',
...       intelligence_level=3, hardware_class='B', sequence=42)
'CNH7K2A3B5C72603P13B000000429'
>>> calc_check_char('CNH7K2A3B5C72603P13B00000042')
'9'
>>> build_many(prefix(country='CN', company='H7K2', model='A3B5C7', year=2026, month=3,
...                   plant='P1', intelligence_level=3, hardware_class='B'), range(42, 44))
['CNH7K2A3B5C72603P13B000000429', 'CNH7K2A3B5C72603P13B000000437']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from stdnum.iso7064 import mod_37_36

__all__ = [
    "ALPHABET",
    "COUNTRIES",
    "HARDWARE_CLASSES",
    "LENGTH",
    "IdCode",
    "InvalidCharacter",
    "InvalidChecksum",
    "InvalidClass",
    "InvalidCode",
    "InvalidComponent",
    "InvalidCountry",
    "InvalidLength",
    "InvalidLevel",
    "InvalidMonth",
    "InvalidSequence",
    "build",
    "build_many",
    "calc_check_char",
    "compact",
    "format",
    "is_valid",
    "is_valid_component_code",
    "parse",
    "prefix",
    "validate",
    "with_check",
]

LENGTH = 29
"""Length of the compact form."""

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The 36 characters a code may contain, in ISO 7064 value order (0-35)."""

_COMPONENT_EXCLUDED = frozenset("IOQ")

HARDWARE_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        "B": "full-size biped",
        "W": "wheeled humanoid",
        "U": "upper body on a base",
        "S": "small (< 1 m)",
        "X": "other",
    }
)
"""Hardware class letter (position 20) -> English description."""

# The 249 officially assigned ISO 3166-1 alpha-2 codes (Debian iso-codes 4.15).
COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()
)
"""ISO 3166-1 alpha-2 codes accepted in positions 1-2."""

# (name, first position, last position) of the parts that never contain I, O or Q.
_COMPONENTS = (("company", 3, 6), ("model", 7, 12), ("plant", 17, 18))


class InvalidCode(ValueError):  # noqa: N818 (stdnum naming)
    """The identity code is not valid.

    ``code`` is a stable machine-readable reason (``invalid_length``...),
    ``position`` the 1-based position in the compact form that is wrong (or
    ``None`` when no single position is to blame), ``message`` a sentence for
    people. Raised directly only for input that is not a string
    (``code == 'invalid_type'``); otherwise one of the subclasses.
    """

    code: str = "invalid_code"
    message: str = "The identity code is invalid."

    def __init__(
        self, message: str | None = None, position: int | None = None, *, code: str | None = None
    ) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.position = position
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.position), {"code": self.code})


class InvalidLength(InvalidCode):
    """The code (or one of the parts given to build()) has the wrong length."""

    code = "invalid_length"
    message = "The identity code has an invalid length."


class InvalidCharacter(InvalidCode):
    """A character is outside the alphabet 0-9A-Z."""

    code = "invalid_character"
    message = "The identity code contains a character outside 0-9A-Z."


class InvalidCountry(InvalidCode):
    """Positions 1-2 are not an ISO 3166-1 alpha-2 country code."""

    code = "invalid_country"
    message = "The country is not an ISO 3166-1 alpha-2 code."


class InvalidComponent(InvalidCode):
    """The company, model or plant code contains I, O or Q."""

    code = "invalid_component"
    message = "The company, model or plant code contains I, O or Q."


class InvalidMonth(InvalidCode):
    """Positions 13-16 are not a production month YYMM."""

    code = "invalid_month"
    message = "The production month is invalid."


class InvalidLevel(InvalidCode):
    """Position 19 is not an intelligence level 0-5."""

    code = "invalid_level"
    message = "The intelligence level is invalid."


class InvalidClass(InvalidCode):
    """Position 20 is not a hardware class B, W, U, S or X."""

    code = "invalid_class"
    message = "The hardware class is invalid."


class InvalidSequence(InvalidCode):
    """Positions 21-28 are not a decimal sequence number from 00000001."""

    code = "invalid_sequence"
    message = "The sequence number is invalid."


class InvalidChecksum(InvalidCode):
    """The check character (position 29) does not match positions 1-28."""

    code = "invalid_checksum"
    message = "The check character does not match."


# --- check character tables, filled in by stdnum's own mod_37_36 -----------------------------
#
# States are kept multiplied by 128 so that one list index `state + byte` does the step for an
# ASCII byte without translating it to its ISO 7064 value first.
def _tabulate_mod_37_36() -> tuple[list[int], list[str]]:
    step = [0] * (36 << 7)
    check = [""] * (36 << 7)
    for s, state_char in enumerate(ALPHABET):
        # mod_37_36 starts in state 18, and one character of value s takes it to state s.
        for char in ALPHABET:
            step[(s << 7) | ord(char)] = mod_37_36.checksum(state_char + char) << 7
        check[s << 7] = mod_37_36.calc_check_digit(state_char)
    return step, check


_STEP, _CHECK_FOR_STATE = _tabulate_mod_37_36()
_START = (len(ALPHABET) // 2) << 7  # ISO 7064 hybrid systems start at M/2
_VALID_END = 1 << 7  # a valid code ends in state 1

# Everything but the country list, the all-zero sequence and the check character in one pass;
# used only as the fast path, the ordered checks below decide which error to raise.
_FAST_SHAPE = re.compile(
    r"[A-Z]{2}[0-9A-HJ-NPR-Z]{10}[0-9]{2}(?:0[1-9]|1[0-2])[0-9A-HJ-NPR-Z]{2}[0-5][BWUSX]"
    r"[0-9]{8}[0-9A-Z]"
).fullmatch
_ALPHABET_ONLY = re.compile(r"[0-9A-Z]*").fullmatch
_PREFIX_SHAPE = re.compile(r"[0-9A-Z]{20}").fullmatch


def _fold(ascii_code: str) -> int:
    """Run the MOD 37,36 state machine over characters known to be in ALPHABET."""
    step = _STEP
    s = _START
    for b in ascii_code.encode():
        s = step[s + b]
    return s


def compact(code: str) -> str:
    """Convert the code to its minimal representation.

    Removes spaces and hyphens, strips surrounding white space and upper-cases
    ASCII letters. Does not validate anything.
    """
    if not isinstance(code, str):
        raise InvalidCode(
            f"the identity code must be a string, not {type(code).__name__}", code="invalid_type"
        )
    code = code.replace(" ", "").replace("-", "").strip()
    if code.isascii():
        return code.upper()
    return "".join(c.upper() if "a" <= c <= "z" else c for c in code)


def calc_check_char(code28: str) -> str:
    """Calculate the check character (position 29) for positions 1-28.

    ``code28`` must be 28 characters of ``0-9A-Z`` (compact, upper-case);
    raises InvalidLength or InvalidCharacter otherwise. The other parts are
    not checked; use build() or validate() for that.
    """
    if not isinstance(code28, str) or len(code28) != LENGTH - 1:
        n = len(code28) if isinstance(code28, str) else type(code28).__name__
        raise InvalidLength(f"the check character is computed over 28 characters, not {n}")
    if not _ALPHABET_ONLY(code28):
        pos = _first_outside_alphabet(code28)
        raise InvalidCharacter(_character_message(code28, pos), pos)
    return _CHECK_FOR_STATE[_fold(code28)]


def with_check(code28: str) -> str:
    """Return ``code28`` with its check character appended (see calc_check_char())."""
    return code28 + calc_check_char(code28)


def validate(code: object) -> str:
    """Check the code and return its compact form.

    Raises, in this order of checks: InvalidLength, InvalidCharacter,
    InvalidCountry, InvalidComponent, InvalidMonth, InvalidLevel, InvalidClass,
    InvalidSequence, InvalidChecksum (all InvalidCode, a ValueError). Input
    that is not a str raises InvalidCode with ``code == 'invalid_type'``.
    """
    if type(code) is str and _FAST_SHAPE(code):
        c = code  # already compact: the common case, spared the normalisation
    else:
        c = compact(code)  # type: ignore[arg-type]  # compact() rejects non-str itself
        if not _FAST_SHAPE(c):
            _raise_first_error(c)
    if c[:2] in COUNTRIES and c[20:28] != "00000000" and _fold(c) == _VALID_END:
        return c
    _raise_first_error(c)


def is_valid(code: object) -> bool:
    """Check whether the code is valid."""
    try:
        return bool(validate(code))
    except InvalidCode:
        return False


def format(code: str) -> str:
    """Validate the code and return its display form ``CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS``."""
    c = validate(code)
    return f"{c[:2]}-{c[2:6]}-{c[6:12]}-{c[12:]}"


@dataclass(frozen=True, slots=True)
class IdCode:
    """The parts of a valid identity code (see parse())."""

    country: str
    company: str
    model: str
    production_year: int
    production_month: int
    plant: str
    intelligence_level: int
    hardware_class: str
    sequence: int
    check: str

    @property
    def code(self) -> str:
        """The compact form."""
        return (
            f"{self.country}{self.company}{self.model}{self.production_year % 100:02d}"
            f"{self.production_month:02d}{self.plant}{self.intelligence_level}"
            f"{self.hardware_class}{self.sequence:08d}{self.check}"
        )

    def __str__(self) -> str:
        return self.code

    def as_dict(self) -> dict[str, Any]:
        """The JSON object ``robopass code parse --json`` prints."""
        return {
            "country": self.country,
            "company": self.company,
            "model": self.model,
            "production_month": f"{self.production_year:04d}-{self.production_month:02d}",
            "plant": self.plant,
            "intelligence_level": self.intelligence_level,
            "hardware_class": self.hardware_class,
            "sequence": self.sequence,
            "check": self.check,
        }


def parse(code: object) -> IdCode:
    """Validate the code and split it into its parts (raises like validate())."""
    c = validate(code)
    return IdCode(
        country=c[0:2],
        company=c[2:6],
        model=c[6:12],
        production_year=2000 + int(c[12:14]),
        production_month=int(c[14:16]),
        plant=c[16:18],
        intelligence_level=int(c[18]),
        hardware_class=c[19],
        sequence=int(c[20:28]),
        check=c[28],
    )


def is_valid_component_code(value: object, length: int | None = None) -> bool:
    """Whether ``value`` can be a company, model or plant code.

    That is: a non-empty str of ``0-9A-Z`` without I, O or Q, of exactly
    ``length`` characters when given (company 4, model 6, plant 2).
    """
    if not isinstance(value, str) or not value or not _ALPHABET_ONLY(value):
        return False
    if length is not None and len(value) != length:
        return False
    return _COMPONENT_EXCLUDED.isdisjoint(value)


def prefix(
    *,
    country: str,
    company: str,
    model: str,
    year: int,
    month: int,
    plant: str,
    intelligence_level: int,
    hardware_class: str,
) -> str:
    """Return positions 1-20 (everything before the sequence) after checking every part.

    Parts are taken as given: upper-case, compact. Raises the error class
    validate() would raise for the same fault, with its position.
    """
    if not isinstance(country, str) or country not in COUNTRIES:
        raise InvalidCountry(
            f"positions 1-2: {country!r} is not an ISO 3166-1 alpha-2 country code", 1
        )
    _check_component("company", company, 3, 6)
    _check_component("model", model, 7, 12)
    if not _is_int(year) or not 2000 <= year <= 2099:
        raise InvalidMonth(f"positions 13-14: production year {year!r} is not 2000-2099", 13)
    if not _is_int(month) or not 1 <= month <= 12:
        raise InvalidMonth(f"positions 15-16: month {month!r} is not 1-12", 15)
    _check_component("plant", plant, 17, 18)
    if not _is_int(intelligence_level) or not 0 <= intelligence_level <= 5:
        raise InvalidLevel(f"position 19: intelligence level {intelligence_level!r} is not 0-5", 19)
    if not isinstance(hardware_class, str) or hardware_class not in HARDWARE_CLASSES:
        raise InvalidClass(
            f"position 20: hardware class {hardware_class!r} is not one of B, W, U, S, X", 20
        )
    return (
        f"{country}{company}{model}{year % 100:02d}{month:02d}{plant}"
        f"{intelligence_level}{hardware_class}"
    )


def build(
    *,
    country: str,
    company: str,
    model: str,
    year: int,
    month: int,
    plant: str,
    intelligence_level: int,
    hardware_class: str,
    sequence: int,
) -> str:
    """Assemble a valid compact code from its parts, appending the check character.

    Raises the error class validate() would raise for the same fault.
    """
    head = prefix(
        country=country,
        company=company,
        model=model,
        year=year,
        month=month,
        plant=plant,
        intelligence_level=intelligence_level,
        hardware_class=hardware_class,
    )
    if not _is_int(sequence) or not 1 <= sequence <= 99_999_999:
        raise InvalidSequence(f"positions 21-28: sequence {sequence!r} is not 1-99999999", 21)
    return with_check(f"{head}{sequence:08d}")


def build_many(prefix20: str, sequences: range) -> list[str]:
    """Return the codes for ``prefix20`` (from prefix()) and each sequence number.

    The prefix is checked once (raising like validate()), the range bounds once
    (InvalidSequence unless all lie in 1-99999999); the loop itself only runs the
    eight sequence digits through the check table, well under a microsecond
    a code.
    """
    if not isinstance(prefix20, str) or not _PREFIX_SHAPE(prefix20):
        n = len(prefix20) if isinstance(prefix20, str) else type(prefix20).__name__
        raise InvalidLength(
            f"a prefix is 20 characters of 0-9A-Z (positions 1-20), got {n!r}", None
        )
    validate(with_check(prefix20 + "00000001"))  # every check on positions 1-20
    if not isinstance(sequences, range):
        raise InvalidSequence(f"sequences must be a range, not {type(sequences).__name__}", 21)
    if not sequences:
        return []
    low, high = min(sequences[0], sequences[-1]), max(sequences[0], sequences[-1])
    if low < 1 or high > 99_999_999:
        raise InvalidSequence(
            f"positions 21-28: sequences {low}-{high} are not within 1-99999999", 21
        )
    step = _STEP
    checks = _CHECK_FOR_STATE
    s0 = _fold(prefix20)
    codes: list[str] = []
    append = codes.append
    for n in sequences:
        digits = f"{n:08d}"
        d1, d2, d3, d4, d5, d6, d7, d8 = digits.encode()
        s = step[step[step[step[s0 + d1] + d2] + d3] + d4]
        s = step[step[step[step[s + d5] + d6] + d7] + d8]
        append(prefix20 + digits + checks[s])
    return codes


# --- ordered checks: only reached when the fast path in validate() fails ---------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_outside_alphabet(code: str) -> int:
    for i, c in enumerate(code):
        if c not in ALPHABET:
            return i + 1
    raise AssertionError("no character outside the alphabet")  # pragma: no cover


def _character_message(code: str, pos: int) -> str:
    return f"position {pos}: {code[pos - 1]!r} is not allowed; the alphabet is 0-9 and A-Z"


def _check_component(name: str, value: object, first: int, last: int) -> None:
    length = last - first + 1
    if not isinstance(value, str):
        raise InvalidComponent(
            f"the {name} code must be a str of {length} characters, not {type(value).__name__}",
            first,
        )
    if len(value) != length:
        raise InvalidLength(
            f"positions {first}-{last}: the {name} code must have {length} characters, "
            f"not {len(value)}",
            first,
        )
    for i, c in enumerate(value):
        if c not in ALPHABET:
            raise InvalidCharacter(
                f"position {first + i}: {c!r} is not allowed; the alphabet is 0-9 and A-Z",
                first + i,
            )
        if c in _COMPONENT_EXCLUDED:
            raise InvalidComponent(_component_message(name, c, first + i, first, last), first + i)


def _component_message(name: str, char: str, pos: int, first: int, last: int) -> str:
    return (
        f"position {pos}: {char!r} is not allowed in the {name} code "
        f"(positions {first}-{last}); I, O and Q are never used"
    )


def _first_non_digit(code: str, first: int, last: int) -> int | None:
    for pos in range(first, last + 1):
        if code[pos - 1] not in "0123456789":
            return pos
    return None


def _raise_first_error(c: str) -> NoReturn:
    if len(c) != LENGTH:
        raise InvalidLength(
            f"the code has {len(c)} character{'' if len(c) == 1 else 's'} after removing "
            f"spaces and hyphens; "
            f"{LENGTH} are expected"
        )
    if not _ALPHABET_ONLY(c):
        pos = _first_outside_alphabet(c)
        raise InvalidCharacter(_character_message(c, pos), pos)
    if c[:2] not in COUNTRIES:
        raise InvalidCountry(
            f"positions 1-2: {c[:2]!r} is not an ISO 3166-1 alpha-2 country code", 1
        )
    for name, first, last in _COMPONENTS:
        for pos in range(first, last + 1):
            if c[pos - 1] in _COMPONENT_EXCLUDED:
                raise InvalidComponent(_component_message(name, c[pos - 1], pos, first, last), pos)
    digit_pos = _first_non_digit(c, 13, 16)
    if digit_pos is not None:
        raise InvalidMonth(
            f"position {digit_pos}: {c[digit_pos - 1]!r} is not a digit; positions 13-16 are the "
            f"production month YYMM",
            digit_pos,
        )
    if not "01" <= c[14:16] <= "12":
        raise InvalidMonth(f"positions 15-16: month {c[14:16]!r} is not 01-12", 15)
    if c[18] not in "012345":
        raise InvalidLevel(f"position 19: intelligence level {c[18]!r} is not 0-5", 19)
    if c[19] not in HARDWARE_CLASSES:
        raise InvalidClass(f"position 20: hardware class {c[19]!r} is not one of B, W, U, S, X", 20)
    digit_pos = _first_non_digit(c, 21, 28)
    if digit_pos is not None:
        raise InvalidSequence(
            f"position {digit_pos}: {c[digit_pos - 1]!r} is not a digit; positions 21-28 are the "
            f"decimal sequence number",
            digit_pos,
        )
    if c[20:28] == "00000000":
        raise InvalidSequence(
            "positions 21-28: sequence 00000000 is never issued; sequences start at 00000001",
            21,
        )
    if _fold(c) != _VALID_END:
        raise InvalidChecksum(
            f"position 29: the check character {c[28]!r} does not match positions 1-28 "
            f"(ISO 7064 MOD 37,36)",
            29,
        )
    raise AssertionError(f"{c!r} failed the fast path but passed every check")  # pragma: no cover
