"""A vectorized `phonenumbers.parse` + `is_valid_number` + E.164 for the common shapes of numbers.

`phonenumbers` costs ~17 µs a number in Python; a million customers with two numbers each would
spend over 30 s there. This module replays the library's own algorithm (same metadata: country
codes, international and national prefixes, possible lengths, per-type national number patterns)
over whole columns, with pyarrow's RE2 for the patterns (the library's patterns are written to be
portable to RE2, which its C++ version uses).

It decides only what it can decide exactly like the library: numbers written with digits, spaces,
`.`, `-`, `/`, `(`, `)` and at most one leading `+`, for a supported default region whose
prefixes are plain digit strings. Everything else (letters, extensions, exotic prefix rules, a
country code the library would re-interpret) is left undecided and goes to the per-number parse.
`tests/sna/normalize/test_phone_fastpath.py` compares both paths on a large sample.

How it stays fast: every column lives in Arrow and every step is a whole-column kernel; a region's
rules never cost a pass of their own. Per-row metadata (country code, prefixes) comes from a table
per distinct region; the regular expressions of all regions are folded into one RE2 call per step
(`_keyed_match`: each number is prefixed with a token naming its region's pattern, and one
alternation `k1:(?:pattern1)|k2:(?:pattern2)|...` tests every row against its own pattern). The
folded patterns are built once per process; RE2 compiles one per call, and a chunk makes about
twenty such calls whatever the number of regions (it made ~700, one per region and length, before).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers import phonenumberutil as pnu

_SHAPE = r"\+?[0-9 .\-/()]+"
_DIGITS_ONLY = re.compile(r"[0-9]+")
_MIN_DIGITS, _MAX_DIGITS = 4, 20
_MIN_NSN, _MAX_NSN = pnu._MIN_LENGTH_FOR_NSN, pnu._MAX_LENGTH_FOR_NSN
_KEEP_ORIGINAL = (pnu.ValidationResult.TOO_SHORT, pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                  pnu.ValidationResult.INVALID_LENGTH)
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line")
_FOLD_LIMIT = 60_000  # characters of one folded pattern (RE2 refuses programs over its memory budget)


# -- the metadata, per region and per (region, length), built once per process ----------------------


@dataclass(frozen=True)
class _Plan:
    """What the fast path needs of one region's metadata."""

    region: str
    metadata: PhoneMetadata
    general_pattern: str | None
    national_prefixes: tuple[str, ...]  # plain digit strings tried in order (`0|180020`), or none
    national_prefix_pattern: str | None  # a regex prefix the fast path cannot strip (rows go slow)
    length_result: dict[int, int]  # `_test_number_length` depends on the length only

    def test_length(self, length: int) -> int:
        if length not in self.length_result:
            self.length_result[length] = pnu._test_number_length("0" * length, self.metadata)
        return self.length_result[length]


def _desc_matches_length(desc, length: int) -> bool:
    return desc is not None and (len(desc.possible_length) == 0 or length in desc.possible_length)


@cache
def _patterns_for_length(region: str, length: int) -> tuple[str | None, tuple[str, ...]]:
    """The general pattern (None if the length is impossible) and the type patterns of one length."""
    metadata = PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc
    if not _desc_matches_length(general, length) or not general.national_number_pattern:
        return None, ()
    names = list(_TYPE_DESCS) + ([] if metadata.same_mobile_and_fixed_line_pattern else ["mobile"])
    types = []
    for name in names:
        desc = getattr(metadata, name)
        if _desc_matches_length(desc, length) and desc.national_number_pattern:
            types.append(desc.national_number_pattern)
    return general.national_number_pattern, tuple(types)


@cache
def _plan(region: str) -> _Plan | None:
    """The region's plan, or None when the fast path does not handle numbers of this region."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing or None
    alternatives = tuple(prefix.split("|")) if prefix is not None else ()
    literal = prefix if alternatives and all(_DIGITS_ONLY.fullmatch(a) for a in alternatives) and not (
        metadata.national_prefix_transform_rule) else None
    return _Plan(
        region=region,
        metadata=metadata,
        general_pattern=metadata.general_desc.national_number_pattern if metadata.general_desc else None,
        national_prefixes=alternatives if literal is not None else (),
        national_prefix_pattern=prefix if prefix is not None and literal is None else None,
        length_result={},
    )


class _Ids:
    """Small integers for region codes and for patterns, stable for the life of the process."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.ids: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = len(self.names)
            self.names.append(name)
        return found


_REGIONS = _Ids()
_PATTERNS = _Ids()  # pattern text -> id; `_PATTERNS.names[id]` is the pattern


def _pattern_id(pattern: str | None) -> int:
    return -1 if not pattern else _PATTERNS(pattern)


@cache
def _region_facts(rid: int) -> tuple:
    """(has plan, country code, idd pattern id, idd literal length or -1, national prefix regex id,
    national prefix alternatives, general pattern id, main region id of the country code) of a
    region id; -1 / () where the region has none."""
    plan = _plan(_REGIONS.names[rid]) if rid >= 0 else None
    if plan is None:
        return False, 0, -1, -1, -1, (), -1, -1
    metadata = plan.metadata
    idd = metadata.international_prefix
    main = phonenumbers.region_code_for_country_code(metadata.country_code)
    return (True, metadata.country_code, _pattern_id(idd),
            len(idd) if idd and _DIGITS_ONLY.fullmatch(idd) else -1,
            _pattern_id(plan.national_prefix_pattern), plan.national_prefixes,
            _pattern_id(plan.general_pattern), _REGIONS(main))


_FACTS = ("has_plan", "country_code", "idd", "idd_length", "prefix_pattern", "prefixes", "general", "main")


def _per_region(rids: np.ndarray, fact: str) -> np.ndarray:
    """One fact of `_region_facts` for every row (a look-up in a table per region id; -1: none)."""
    return _fact_table(fact, len(_REGIONS.names))[rids + 1]


@lru_cache(maxsize=256)
def _fact_table(fact: str, count: int) -> np.ndarray:
    position = _FACTS.index(fact)
    values = [_region_facts(rid)[position] for rid in range(-1, count)]
    if fact != "prefixes":
        return np.asarray(values)
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table


@lru_cache(maxsize=256)
def _alternative_table(k: int, count: int) -> np.ndarray:
    """The k-th national prefix alternative of each region id ("" when it has none)."""
    prefixes = _fact_table("prefixes", count)
    return np.asarray([p[k] if len(p) > k else "" for p in prefixes.tolist()], dtype=object)


@cache
def _valid_type_ids(rid: int, length: int) -> tuple[int, int]:
    """Pattern ids of the general pattern and of the folded type patterns of (region, length)."""
    plan = _plan(_REGIONS.names[rid]) if rid >= 0 else None
    if plan is None:
        return -1, -1
    general, types = _patterns_for_length(plan.region, length)
    if general is None or not types:
        return -1, -1
    return _pattern_id(general), _pattern_id("|".join(f"(?:{t})" for t in types))


@cache
def _length_result(rid: int, length: int) -> int:
    return _plan(_REGIONS.names[rid]).test_length(length)


def _per_pair(rids: np.ndarray, lengths: np.ndarray, function) -> np.ndarray:
    """`function(rid, length)` for every row, computed once per distinct pair."""
    if not len(rids):
        return np.zeros(0, dtype=np.int64)
    pairs = rids.astype(np.int64) * 4096 + lengths.astype(np.int64)
    distinct, inverse = np.unique(pairs, return_inverse=True)
    values = np.asarray([function(int(p // 4096), int(p % 4096)) for p in distinct], dtype=np.int64)
    return values[inverse.reshape(-1)]


# -- Arrow helpers ---------------------------------------------------------------------------------


def _true(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow column as numpy, False where NULL."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _lengths(text: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _where(mask: np.ndarray, then: pa.Array, otherwise: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask, type=pa.bool_()), then, otherwise)


def _slice_from(text: pa.Array, starts: np.ndarray, rows: np.ndarray) -> pa.Array:
    """`text[start:]` with a start per row (on `rows`; other rows keep their text)."""
    result = text
    for start in np.unique(starts[rows]):
        result = _where(rows & (starts == start), pc.utf8_slice_codeunits(text, int(start)), result)
    return result


def _fullmatch(text: pa.Array, pattern: str) -> np.ndarray:
    return _true(pc.match_substring_regex(text, f"^(?:{pattern})$"))


@lru_cache(maxsize=4096)
def _folded(ids: tuple[int, ...], full: bool) -> str:
    body = "|".join(f"k{i}:(?:{_PATTERNS.names[i]})" for i in ids)
    return f"^(?:{body})$" if full else f"^(?:{body})"


@lru_cache(maxsize=4096)
def _groups(ids: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The pattern ids in groups whose folded pattern stays under `_FOLD_LIMIT` characters."""
    groups, current, size = [], [], 0
    for i in ids:
        length = len(_PATTERNS.names[i]) + 16
        if current and size + length > _FOLD_LIMIT:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(i)
        size += length
    groups.append(tuple(current))
    return tuple(groups)


def _keyed_match(pattern_ids: np.ndarray, text: pa.Array, rows: np.ndarray, *, full: bool) -> np.ndarray:
    """Row i matches pattern `pattern_ids[i]` (whole text when `full`, else a prefix), on `rows`;
    False elsewhere and where the id is -1. One RE2 call for all the patterns involved."""
    result = np.zeros(len(pattern_ids), dtype=bool)
    index = np.flatnonzero(rows & (pattern_ids >= 0))
    if not len(index):
        return result
    ids = pattern_ids[index]
    distinct = np.unique(ids)
    tokens = pa.array([f"k{i}:" for i in distinct.tolist()], type=pa.string())
    keyed = pc.binary_join_element_wise(tokens.take(pa.array(np.searchsorted(distinct, ids))),
                                        text.take(pa.array(index)), "")
    for group in _groups(tuple(distinct.tolist())):
        inside = np.isin(ids, group) if len(group) < len(distinct) else np.ones(len(ids), dtype=bool)
        subset = keyed if inside.all() else keyed.filter(pa.array(inside))
        result[index[inside]] = _match_folded(subset, group, full)
    return result


def _match_folded(keyed: pa.Array, group: tuple[int, ...], full: bool) -> np.ndarray:
    try:
        return _true(pc.match_substring_regex(keyed, _folded(group, full)))
    except pa.ArrowInvalid:  # the folded program is too large for RE2: halve it
        if len(group) == 1:
            raise
        half = len(group) // 2
        return _match_folded(keyed, group[:half], full) | _match_folded(keyed, group[half:], full)


# -- the steps of `phonenumbers.parse` ---------------------------------------------------------------


def _strip_national_prefix(text: pa.Array, rids: np.ndarray, rows: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """`_maybe_strip_national_prefix_carrier_code` for digit-string prefixes, per row with its
    region's prefixes; and the rows the fast path cannot strip exactly (a regular-expression prefix
    that matches: left to the library)."""
    unsure = _keyed_match(_per_region(rids, "prefix_pattern"), text, rows, full=False)
    count = len(_REGIONS.names)
    prefixes = _fact_table("prefixes", count)
    lengths = np.asarray([len(p) for p in prefixes.tolist()], dtype=np.int64)[rids + 1]
    literal = rows & (lengths > 0)
    if not literal.any():
        return text, unsure
    cut = np.zeros(len(rids), dtype=np.int64)  # like `re.match("0|180020")`: the first alternative wins
    starts: dict[str, np.ndarray] = {}
    for k in range(int(lengths[literal].max())):
        alternative = _alternative_table(k, count)[rids + 1]
        for prefix in set(_alternative_table(k, count)[np.unique(rids[literal]) + 1].tolist()) - {""}:
            if prefix not in starts:
                starts[prefix] = _true(pc.starts_with(text, prefix))
            hit = literal & (cut == 0) & (alternative == prefix) & starts[prefix]
            cut[hit] = len(prefix)
    stripped = cut > 0
    if not stripped.any():
        return text, unsure
    rest = _slice_from(text, cut, stripped)
    general = _per_region(rids, "general")
    keep = _keyed_match(general, text, stripped, full=True) & ~_keyed_match(general, rest, stripped, full=True)
    return _where(stripped & ~keep, rest, text), unsure


def _valid_type(rids: np.ndarray, nsn: pa.Array, rows: np.ndarray) -> np.ndarray:
    """`_number_type_helper(nsn) != UNKNOWN` with each row's region: the general desc and at least
    one type desc of the number's length match."""
    index = np.flatnonzero(rows)
    general = np.full(len(rids), -1, dtype=np.int64)
    types = np.full(len(rids), -1, dtype=np.int64)
    if len(index):
        lengths = _lengths(nsn.take(pa.array(index)))
        general[index] = _per_pair(rids[index], lengths, lambda r, n: _valid_type_ids(r, n)[0])
        types[index] = _per_pair(rids[index], lengths, lambda r, n: _valid_type_ids(r, n)[1])
    ok = _keyed_match(general, nsn, rows, full=True)
    return ok & _keyed_match(types, nsn, ok, full=True)


@cache
def _code_regions(code: int) -> tuple[int, ...]:
    """Region ids of a country code, in the library's order."""
    return tuple(_REGIONS(region) for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()))


@cache
def _leading_id(rid: int) -> int:
    """The pattern id of a region's leading digits (`region_code_for_number` tries them first), or -1."""
    metadata = PhoneMetadata.metadata_for_region(_REGIONS.names[rid].upper(), None)
    return -1 if metadata is None or metadata.leading_digits is None else _PATTERNS(metadata.leading_digits)


@cache
def _candidates(code: int) -> tuple[int, tuple[int, ...]]:
    """(the region id of a one-region country code, -1 for none, -2 for several; the candidate
    region ids of a several-region code, in the library's order, those without metadata left out)."""
    regions = _code_regions(code)
    if len(regions) == 1:
        return regions[0], ()
    if not regions:
        return -1, ()
    return -2, tuple(r for r in regions if PhoneMetadata.metadata_for_region(_REGIONS.names[r].upper(), None)
                     is not None)


def _region_of(cc: np.ndarray, nsn: pa.Array, rows: np.ndarray) -> np.ndarray:
    """`region_code_for_number` for each row: the region id, or -1 for none. Codes of several
    regions try them in order (leading digits, else a valid type): every candidate of every row is
    tested at once, and the first that matches wins."""
    owner = np.full(len(cc), -1, dtype=np.int64)
    index = np.flatnonzero(rows)
    if not len(index):
        return owner
    codes, inverse = np.unique(cc[index], return_inverse=True)
    inverse = inverse.reshape(-1)
    facts = [_candidates(int(code)) for code in codes.tolist()]
    first = np.asarray([fact[0] for fact in facts], dtype=np.int64)[inverse]
    owner[index] = np.where(first >= -1, first, -1)
    pair_rows, pair_regions, pair_rank = [], [], []
    for position, (kind, candidates) in enumerate(facts):
        if kind != -2 or not candidates:
            continue
        members = index[inverse == position]
        pair_rows.append(np.repeat(members, len(candidates)))
        pair_regions.append(np.tile(np.asarray(candidates, dtype=np.int64), len(members)))
        pair_rank.append(np.tile(np.arange(len(candidates)), len(members)))
    if not pair_rows:
        return owner
    rows_of, regions, rank = np.concatenate(pair_rows), np.concatenate(pair_regions), np.concatenate(pair_rank)
    text = nsn.take(pa.array(rows_of))
    leading = np.asarray([_leading_id(int(r)) for r in range(len(_REGIONS.names))], dtype=np.int64)[regions]
    by_leading = leading >= 0
    hit = np.where(by_leading, _keyed_match(leading, text, by_leading, full=False),
                   _valid_type(regions, text, ~by_leading & _per_region(regions, "has_plan").astype(bool)))
    order = np.lexsort((rank, rows_of))  # per row, candidates in the library's order
    rows_sorted, hits_sorted = rows_of[order], hit[order]
    found = np.flatnonzero(hits_sorted)
    if len(found):
        winners, at = np.unique(rows_sorted[found], return_index=True)
        owner[winners] = regions[order][found[at]]
    return owner


def _dummy(nsn: pd.Series) -> np.ndarray:
    """`is_dummy_number` over a column: a keyboard sequence, or one digit repeated after the first."""
    from sna.normalize.phones import DUMMY_SEQUENCES

    if len(nsn) == 0:
        return np.zeros(0, dtype=bool)
    values = nsn.to_numpy(dtype=object).astype("U")
    width = max(values.dtype.itemsize // 4, 1)
    codes = values.view(np.uint32).reshape(len(values), width)
    lengths = nsn.str.len().to_numpy()
    position = np.arange(width)
    inside = (position >= 1) & (position[None, :] < lengths[:, None])
    same = (codes == codes[:, 1:2]) | ~inside
    repeated = (lengths > 1) & same.all(axis=1)
    return repeated | nsn.isin(DUMMY_SEQUENCES).to_numpy()


def _arrow_text(values: pd.Series) -> pa.Array:
    array = pa.array(values.astype("str"), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def _region_ids(regions: pd.Series) -> np.ndarray:
    codes, distinct = pd.factorize(regions.astype("str"))
    table = np.asarray([_REGIONS(str(name)) for name in distinct.tolist()] + [-1], dtype=np.int64)
    return table[codes]  # factorize's -1 (missing) takes the last entry: -1


def fast_e164(raws: pd.Series, regions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(decided, e164) for trimmed raw numbers and their default regions (uppercase ISO or missing).

    Where `decided` is True, `e164` holds exactly what `phonenumbers` gives (E.164 of a valid,
    non-dummy number, or None); undecided rows must go through the per-number parse.
    """
    size = len(raws)
    e164 = np.full(size, None, dtype=object)
    decided = np.zeros(size, dtype=bool)
    if size == 0:
        return decided, e164
    raw = _arrow_text(raws.reset_index(drop=True))
    rids = _region_ids(regions.reset_index(drop=True))
    no_text = pa.nulls(size, pa.string())

    shaped = _fullmatch(raw, _SHAPE)
    digits = raw  # the shaped rows' digits: what `[^0-9]` removes from them, as literal replacements
    for separator in " .-/()+":
        digits = pc.replace_substring(digits, separator, "")
    count = _lengths(digits)
    shaped &= (count >= _MIN_DIGITS) & (count <= _MAX_DIGITS)
    plus = _true(pc.starts_with(raw, "+"))
    has_plan = _per_region(rids, "has_plan").astype(bool)
    country_code = _per_region(rids, "country_code").astype(np.int64)

    undecided = ~shaped | (rids < 0)  # no default region: left to the library
    rows = shaped & (rids >= 0)
    undecided |= rows & ~has_plan
    rows &= has_plan
    cc = np.zeros(size, dtype=np.int64)  # the number's country code once known
    national = no_text
    meta = np.full(size, -1, dtype=np.int64)  # whose metadata strips the national prefix

    # `+`, or the region's international prefix (IDD), then the country code follows.
    international = rows & plus
    intl_digits = _where(international, digits, no_text)
    rest = rows & ~plus
    matched = _keyed_match(_per_region(rids, "idd"), digits, rest, full=False)
    idd_length = _per_region(rids, "idd_length").astype(np.int64)
    undecided |= matched & (idd_length < 0)
    literal = matched & (idd_length >= 0)
    for length in np.unique(idd_length[literal]).tolist():
        inside = literal & (idd_length == length)
        after = _true(pc.not_equal(pc.utf8_slice_codeunits(digits, length, length + 1), "0")) & (count > length)
        strip = inside & after
        undecided |= inside & ~strip
        international |= strip
        intl_digits = _where(strip, pc.utf8_slice_codeunits(digits, length), intl_digits)
    rest &= ~matched

    # A national number, or one that starts with the country code (`_maybe_extract_country_code`).
    cc_text = pa.array(country_code.astype(str), type=pa.string())
    cc_length = _lengths(cc_text)
    starts_cc = np.zeros(size, dtype=bool)
    for length in np.unique(cc_length[rest]).tolist():
        inside = rest & (cc_length == length)
        starts_cc |= inside & _true(pc.equal(pc.utf8_slice_codeunits(digits, 0, length), cc_text))
    as_national = rest & ~starts_cc
    cc[as_national] = country_code[as_national]
    national = _where(as_national, digits, national)
    meta[as_national] = rids[as_national]
    with_cc = rest & starts_cc
    if with_cc.any():
        potential, bad = _strip_national_prefix(_slice_from(digits, cc_length, with_cc), rids, with_cc)
        general = _per_region(rids, "general")
        index = np.flatnonzero(with_cc)
        too_long = np.zeros(size, dtype=bool)
        too_long[index] = _per_pair(rids[index], count[index], _length_result) == pnu.ValidationResult.TOO_LONG
        take = (~_keyed_match(general, digits, with_cc, full=True)
                & _keyed_match(general, potential, with_cc, full=True)) | too_long
        undecided |= with_cc & bad
        cc[with_cc] = country_code[with_cc]
        national = _where(with_cc & take, potential, _where(with_cc, digits, national))
        main = _per_region(rids, "main").astype(np.int64)
        meta[with_cc] = np.where(take, main, rids)[with_cc]

    # Country code after `+` or the international prefix (`_extract_country_code`).
    intl = international & ~undecided
    if intl.any():
        known = np.asarray(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE), dtype=np.int64)
        text = intl_digits
        lengths = _lengths(text)
        first_zero = _true(pc.fill_null(pc.starts_with(text, "0"), True))
        found = np.zeros(size, dtype=np.int64)
        width = np.zeros(size, dtype=np.int64)
        for length in (1, 2, 3):
            head = pc.utf8_slice_codeunits(text, 0, length)
            head = pc.if_else(pc.equal(head, ""), pa.scalar(None, pa.string()), head)
            values = pc.fill_null(pc.cast(head, pa.int64()), -1).to_numpy(zero_copy_only=False)
            hit = intl & (found == 0) & ~first_zero & np.isin(values, known) & (lengths > length - 1)
            found[hit] = values[hit]
            width[hit] = length
        too_short = intl & (lengths <= _MIN_NSN)
        undecided |= intl & (found == 0) & ~too_short  # the library retries without the `+`
        cc[intl] = found[intl]
        national = _where(intl, _slice_from(text, width, intl), national)
        with_code = intl & (found > 0)
        codes, inverse = np.unique(found[with_code], return_inverse=True)
        owners = []
        for code in codes.tolist():
            region = phonenumbers.region_code_for_country_code(code)
            owners.append(-1 if region == phonenumbers.UNKNOWN_REGION or _plan(region) is None else _REGIONS(region))
        owner_of_row = np.asarray(owners, dtype=np.int64)[inverse.reshape(-1)] if len(codes) else np.zeros(0, np.int64)
        picked = np.flatnonzero(with_code)
        undecided[picked[owner_of_row < 0]] = True
        meta[picked[owner_of_row >= 0]] = owner_of_row[owner_of_row >= 0]
        decided |= too_short  # too short after the IDD: the library raises, so the answer is None
        cc[too_short] = 0

    # National prefix, length checks, validity, dummies.
    working = ~undecided & (cc > 0)
    short = working & (_lengths(national) < _MIN_NSN)
    potential, marks = _strip_national_prefix(national, meta, working)
    index = np.flatnonzero(working)
    use = np.zeros(size, dtype=bool)
    use[index] = ~np.isin(_per_pair(meta[index], _lengths(potential.take(pa.array(index))), _length_result),
                          _KEEP_ORIGINAL)
    nsn = _where(use, potential, national)
    undecided |= working & marks
    cc[short] = -1  # TOO_SHORT_NSN before the prefix: the library raises
    final = ~undecided & (cc > 0)
    decided |= ~undecided
    lengths = _lengths(nsn)
    final &= (lengths >= _MIN_NSN) & (lengths <= _MAX_NSN)
    owner = _region_of(cc, nsn, final)
    known_owner = final & (owner >= 0)
    owner_plan = _per_region(owner, "has_plan").astype(bool)
    no_plan = known_owner & ~owner_plan
    undecided |= no_plan
    decided[no_plan] = False
    valid = _valid_type(owner, nsn, known_owner & owner_plan)
    rows = np.flatnonzero(valid)
    if len(rows):
        numbers = nsn.take(pa.array(rows)).to_pandas()
        keep = ~_dummy(numbers)
        rows = rows[keep]
        prefix = pa.array(np.char.add("+", cc[rows].astype(str)).astype(object), type=pa.string())
        e164[rows] = pc.binary_join_element_wise(prefix, nsn.take(pa.array(rows)), "").to_numpy(
            zero_copy_only=False)
    return decided, e164
