"""Instrument codebooks: a YAML description of one questionnaire.

The library never hard-codes an item name. Everything it knows about an
instrument — its items, their answer scales, which are reverse-keyed, how items
form domains and which answer codes mean "missing" — comes from a codebook, so
researchers can bring their own instrument.

Required keys::

    instrument: <id>
    missing_codes: [-9, ...]
    scales:  {<name>: {min: <int>, max: <int>, labels: {bg: [...], en: [...]}}}
    domains: [{id: <id>, label: {bg: ..., en: ...}, min_valid: 0.5, low_threshold: <0-100>}]
    items:   [{id: <column>, domain: <domain id>, scale: <scale name>, reverse: <bool>,
               text: {bg: ..., en: ...}}]

Optional keys for fielding (:mod:`research_lib.fielding`)::

    age_versions: [{id: "8-11", min: 8, max: 11, label: {bg: ..., en: ...}}, ...]
    items:   [{..., asked_in: ["12-17"], easy_read: {bg: ..., en: ...}}]
    scales:  {<name>: {..., faces: false}}   # no faces on the paper form

An item with ``asked_in`` is asked only of children in those age versions; the
scoring treats it as *not asked* for the others (not as missing).

Ids are column names: an item id is the data column of its answers, a domain id
becomes a score column (and ``low_<domain>`` a flag). So an id must be a word
(letters, digits, ``_``, then also ``.`` or ``-``), must not be the name of a
background column (:data:`RESERVED_COLUMNS`: ``respondent_id``, ``age``,
``wave``, ``voice``, ...), and no item, domain or ``low_<domain>`` flag may share a
name. A codebook that breaks this is refused at load time, naming both.

The YAML is read with a bounded loader (:func:`safe_yaml_load`): anchors and
aliases are allowed, but a document that would expand to more than
:data:`MAX_YAML_NODES` nodes (a "billion laughs" alias bomb) or a file larger
than :data:`MAX_CODEBOOK_BYTES` is refused before anything is built from it.

Examples
--------
>>> from research_lib.paths import SURVEYS_DIR
>>> book = load_codebook(SURVEYS_DIR / "qol-child-v1.yaml")
>>> book.instrument
'qol-child-v1'
>>> len(book.domains) >= 10
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from research_lib.errors import CodebookError

__all__ = [
    "Scale",
    "Domain",
    "Item",
    "AgeVersion",
    "Codebook",
    "load_codebook",
    "parse_codebook",
    "safe_yaml_load",
    "RESERVED_COLUMNS",
    "MAX_YAML_NODES",
    "MAX_CODEBOOK_BYTES",
]

LANGUAGES = ("bg", "en")

#: Column names the survey loader and the studies use beside the items: the
#: required background columns, the optional ``weight``, the children's free
#: text ``voice`` and the ``age_band`` the studies derive. No item or domain id
#: may take one of these names (the columns would collide in the scored table).
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {
        "respondent_id",
        "service_id",
        "placement_type",
        "oblast",
        "age",
        "sex",
        "wave",
        "weight",
        "voice",
        "age_band",
        "row",
    }
)
#: Largest number of YAML nodes a codebook may expand to, aliases counted as
#: often as they are used. The shipped 54-item codebook has about 1,500.
MAX_YAML_NODES: int = 200_000
#: Largest codebook file read (the shipped one is about 42 KB).
MAX_CODEBOOK_BYTES: int = 5_000_000
_ID = re.compile(r"\w[\w.\-]*")


@dataclass(frozen=True)
class Scale:
    """An answer scale: integer codes ``min`` … ``max`` with labels per language."""

    name: str
    min: int
    max: int
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Show the answers as faces on the paper form of the youngest age version
    #: (``faces: false`` for counts such as "how many times").
    faces: bool = True


@dataclass(frozen=True)
class AgeVersion:
    """A version of the questionnaire for children aged ``min`` … ``max`` (inclusive)."""

    id: str
    min: int
    max: int
    label: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Domain:
    """A group of items scored together on 0-100."""

    id: str
    label: Mapping[str, str]
    min_valid: float = 0.5
    low_threshold: float | None = None
    #: Other keys of the domain (``instruction``, ``filter``, ``description``, ...).
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Item:
    """One question: the data column ``id``, its domain and scale."""

    id: str
    domain: str
    scale: str
    reverse: bool
    text: Mapping[str, str]
    #: Ids of the age versions that ask this item; empty = every child is asked.
    asked_in: tuple[str, ...] = ()
    #: Easy-read wording per language (for children with intellectual disabilities).
    easy_read: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Codebook:
    """A parsed, checked codebook. Build it with :func:`load_codebook`."""

    instrument: str
    missing_codes: tuple[int, ...]
    scales: Mapping[str, Scale]
    domains: tuple[Domain, ...]
    items: tuple[Item, ...]
    source: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    age_versions: tuple[AgeVersion, ...] = ()

    @property
    def item_ids(self) -> list[str]:
        """The item columns, in codebook order."""
        return [item.id for item in self.items]

    @property
    def domain_ids(self) -> list[str]:
        """The domain ids, in codebook order."""
        return [domain.id for domain in self.domains]

    def domain(self, domain_id: str) -> Domain:
        """The domain with id ``domain_id``."""
        for domain in self.domains:
            if domain.id == domain_id:
                return domain
        raise KeyError(domain_id)

    def items_of(self, domain_id: str) -> list[Item]:
        """The items of one domain, in codebook order."""
        return [item for item in self.items if item.domain == domain_id]

    def scale_of(self, item_id: str) -> Scale:
        """The answer scale of one item."""
        for item in self.items:
            if item.id == item_id:
                return self.scales[item.scale]
        raise KeyError(item_id)

    def domain_label(self, domain_id: str, language: str = "bg") -> str:
        """A domain's label in ``language``, falling back to the other language, then the id."""
        label = self.domain(domain_id).label
        return label.get(language) or next(iter(label.values()), domain_id)

    def age_version(self, version_id: str) -> AgeVersion:
        """The age version with id ``version_id``."""
        for version in self.age_versions:
            if version.id == version_id:
                return version
        raise KeyError(version_id)

    def asked(self, item_id: str, ages: Any) -> np.ndarray:
        """True where a child of age ``ages`` (array-like, years) is asked item ``item_id``.

        An item without ``asked_in`` is asked at every age; an unknown age (NaN)
        counts as asked, so nothing is dropped for lack of an age.
        """
        ages = np.asarray(ages, dtype="float64")
        item = next((it for it in self.items if it.id == item_id), None)
        if item is None:
            raise KeyError(item_id)
        if not item.asked_in:
            return np.ones(ages.shape, dtype=bool)
        asked = np.isnan(ages)
        for version_id in item.asked_in:
            version = self.age_version(version_id)
            with np.errstate(invalid="ignore"):
                asked |= (ages >= version.min) & (ages <= version.max)
        return asked

    def item_text(self, item_id: str, language: str = "bg") -> str:
        """An item's wording in ``language``."""
        for item in self.items:
            if item.id == item_id:
                return item.text.get(language) or next(iter(item.text.values()), item_id)
        raise KeyError(item_id)


def load_codebook(path: str | Path) -> Codebook:
    """Read and check a codebook YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    Codebook

    Raises
    ------
    CodebookError
        (an :class:`~research_lib.errors.InputError`) when the file is missing,
        is not YAML, or has a mistake; the message names the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise CodebookError(
            f"{path}: codebook not found; check the path (codebooks live in surveys/)."
        )
    size = path.stat().st_size
    if size > MAX_CODEBOOK_BYTES:
        raise CodebookError(
            f"{path.name}: the file has {size:,} bytes, more than a codebook may have "
            f"({MAX_CODEBOOK_BYTES:,}); check that this is the codebook YAML."
        )
    try:
        raw = safe_yaml_load(path.read_text(encoding="utf-8"), path.name)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise CodebookError(
            f"{path.name}: not a readable YAML file ({err}). Save it as UTF-8 YAML."
        ) from err
    return parse_codebook(raw, source=path)


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _expanded_size(root: yaml.Node, limit: int, where: str) -> int:
    """Nodes the document would have with every alias expanded; raise beyond *limit*.

    Each distinct node's expanded size is computed once (iteratively, children
    first), so an alias bomb is measured in time proportional to its *file*, not
    to its expansion. A node that contains itself (a recursive alias) is refused.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if not children_done:
            if key in open_nodes:
                raise CodebookError(
                    f"{where}: a YAML alias refers to a node that contains it (a recursive "
                    "alias); write the value out instead."
                )
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        total = 1 + sum(sizes[id(child)] for child in children)
        if total > limit:
            raise CodebookError(
                f"{where}: the YAML would expand to more than {limit:,} values through its "
                "aliases (*name) — an alias bomb or a mistake. Write the values out, or use "
                "fewer nested aliases."
            )
        sizes[key] = total
    return sizes[id(root)]


def safe_yaml_load(text: str, where: str = "YAML", max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML like :func:`yaml.safe_load`, refusing documents that expand too far.

    Parameters
    ----------
    text : str
        The YAML text (one document).
    where : str
        Named in error messages (normally the file name).
    max_nodes : int
        Largest number of nodes the document may have once aliases are expanded.

    Returns
    -------
    object
        The parsed document (None for an empty one).

    Raises
    ------
    CodebookError
        For an alias bomb, a recursive alias or nesting too deep to parse.
    yaml.YAMLError
        For text that is not YAML.

    Notes
    -----
    The node graph is composed first (aliases are shared references there, so
    composing a "billion laughs" document is cheap), its expanded size is
    measured, and only then are Python objects built.
    """
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, max_nodes, where)
        return loader.construct_document(node)
    except RecursionError as err:
        raise CodebookError(
            f"{where}: the YAML is nested too deeply to read; flatten the structure."
        ) from err
    finally:
        loader.dispose()


def _fail(where: str, key: str, problem: str) -> CodebookError:
    return CodebookError(f"{where}: key {key!r} {problem}")


def _require(
    mapping: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]
) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise _fail(where, key, "is missing")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(where, key, f"must be a {names}, got {value!r}")
    return value


def _texts(value: Any, where: str, key: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"en": value}
    if not isinstance(value, Mapping) or not value:
        raise _fail(where, key, "must map languages to text, e.g. {bg: ..., en: ...}")
    return {str(lang): str(text) for lang, text in value.items()}


def _parse_scale(name: str, raw: Any, where: str) -> Scale:
    at = f"{where}: scales.{name}"
    low = _require(raw, "min", at, int)
    high = _require(raw, "max", at, int)
    if low >= high:
        raise _fail(at, "min", f"must be below max (min={low}, max={high})")
    labels: dict[str, tuple[str, ...]] = {}
    for lang, values in (raw.get("labels") or {}).items():
        if not isinstance(values, list) or len(values) != high - low + 1:
            raise _fail(
                at,
                f"labels.{lang}",
                f"must list {high - low + 1} labels, one per answer {low}…{high}",
            )
        labels[str(lang)] = tuple(str(v) for v in values)
    faces = raw.get("faces", True)
    if not isinstance(faces, bool):
        raise _fail(at, "faces", f"must be true or false, got {faces!r}")
    return Scale(name=str(name), min=low, max=high, labels=labels, faces=faces)


def _parse_age_versions(raw: Any, where: str) -> tuple[AgeVersion, ...]:
    """The optional ``age_versions`` list: non-overlapping inclusive age ranges."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(where, "age_versions", "must be a list of {id, min, max, label}")
    versions = []
    for index, spec in enumerate(raw):
        at = f"{where}: age_versions[{index}]"
        version_id = str(_require(spec, "id", at, (str, int)))
        low = _require(spec, "min", at, int)
        high = _require(spec, "max", at, int)
        if low > high:
            raise _fail(at, "min", f"must not be above max (min={low}, max={high})")
        versions.append(
            AgeVersion(
                id=version_id,
                min=low,
                max=high,
                label=_texts(spec.get("label", version_id), at, "label"),
            )
        )
    _no_duplicates([v.id for v in versions], where, "age_versions", "age version id")
    ordered = sorted(versions, key=lambda v: v.min)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if second.min <= first.max:
            raise _fail(
                where, "age_versions", f"has overlapping ages: {first.id!r} and {second.id!r}"
            )
    return tuple(versions)


def _parse_domain(raw: Any, index: int, where: str) -> Domain:
    at = f"{where}: domains[{index}]"
    domain_id = str(_require(raw, "id", at, (str, int)))
    at = f"{where}: domains.{domain_id}"
    min_valid = raw.get("min_valid", 0.5)
    if (
        isinstance(min_valid, bool)
        or not isinstance(min_valid, int | float)
        or not 0 < min_valid <= 1
    ):
        raise _fail(at, "min_valid", f"must be a share in (0, 1], got {min_valid!r}")
    threshold = raw.get("low_threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 100
    ):
        raise _fail(at, "low_threshold", f"must be a number from 0 to 100, got {threshold!r}")
    return Domain(
        id=domain_id,
        label=_texts(raw.get("label", domain_id), at, "label"),
        min_valid=float(min_valid),
        low_threshold=None if threshold is None else float(threshold),
        extra={k: v for k, v in raw.items() if k not in _DOMAIN_KEYS},
    )


_DOMAIN_KEYS = frozenset({"id", "label", "min_valid", "low_threshold"})


def _parse_item(
    raw: Any, index: int, where: str, scales: Mapping[str, Scale], domains: set[str]
) -> Item:
    at = f"{where}: items[{index}]"
    item_id = str(_require(raw, "id", at, (str, int)))
    at = f"{where}: items.{item_id}"
    domain = str(_require(raw, "domain", at, (str, int)))
    if domain not in domains:
        raise _fail(
            at, "domain", f"names unknown domain {domain!r}; known: {', '.join(sorted(domains))}"
        )
    scale = str(_require(raw, "scale", at, (str, int)))
    if scale not in scales:
        raise _fail(
            at, "scale", f"names unknown scale {scale!r}; known: {', '.join(sorted(scales))}"
        )
    reverse = raw.get("reverse", False)
    if not isinstance(reverse, bool):
        raise _fail(at, "reverse", f"must be true or false, got {reverse!r}")
    asked_in = raw.get("asked_in") or ()
    asked_in = (asked_in,) if isinstance(asked_in, str | int) else asked_in
    if not isinstance(asked_in, list | tuple):
        raise _fail(at, "asked_in", f"must list age version ids, got {asked_in!r}")
    return Item(
        id=item_id,
        domain=domain,
        scale=scale,
        reverse=reverse,
        text=_texts(raw.get("text", item_id), at, "text"),
        asked_in=tuple(str(v) for v in asked_in),
        easy_read=_texts(raw["easy_read"], at, "easy_read") if raw.get("easy_read") else {},
    )


def parse_codebook(raw: Any, source: Path | None = None) -> Codebook:
    """Check a codebook already parsed from YAML (a dict) and build a :class:`Codebook`.

    See :func:`load_codebook`; useful in tests and for codebooks built in code.
    """
    where = source.name if source is not None else "codebook"
    if not isinstance(raw, Mapping):
        raise CodebookError(
            f"{where}: a codebook must be a YAML mapping with keys instrument, scales, domains, items."
        )
    instrument = str(_require(raw, "instrument", where, (str, int)))
    codes = raw.get("missing_codes", [])
    if not isinstance(codes, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in codes
    ):
        raise _fail(where, "missing_codes", f"must be a list of whole numbers, got {codes!r}")

    raw_scales = _require(raw, "scales", where, Mapping)
    scales = {str(name): _parse_scale(str(name), spec, where) for name, spec in raw_scales.items()}
    for scale in scales.values():
        clash = sorted(set(codes) & set(range(scale.min, scale.max + 1)))
        if clash:
            raise _fail(f"{where}: scales.{scale.name}", "min", f"overlaps missing_codes {clash}")

    raw_domains = _require(raw, "domains", where, list)
    domains = tuple(_parse_domain(d, i, where) for i, d in enumerate(raw_domains))
    _no_duplicates([d.id for d in domains], where, "domains", "domain id")

    raw_items = _require(raw, "items", where, list)
    domain_ids = {d.id for d in domains}
    items = tuple(_parse_item(it, i, where, scales, domain_ids) for i, it in enumerate(raw_items))
    _no_duplicates([it.id for it in items], where, "items", "item id")
    _check_names(domains, items, where, RESERVED_COLUMNS | _declared_columns(raw))
    empty = [d.id for d in domains if not any(it.domain == d.id for it in items)]
    if empty:
        raise _fail(where, "domains", f"lists domain(s) with no items: {', '.join(empty)}")

    age_versions = _parse_age_versions(raw.get("age_versions"), where)
    version_ids = {v.id for v in age_versions}
    for item in items:
        unknown = [v for v in item.asked_in if v not in version_ids]
        if unknown:
            raise _fail(
                f"{where}: items.{item.id}",
                "asked_in",
                f"names unknown age version(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(version_ids)) or 'none (add age_versions)'}",
            )

    known = {"instrument", "missing_codes", "scales", "domains", "items", "age_versions"}
    return Codebook(
        instrument=instrument,
        missing_codes=tuple(codes),
        scales=scales,
        domains=domains,
        items=items,
        source=source,
        extra={k: v for k, v in raw.items() if k not in known},
        age_versions=age_versions,
    )


def _declared_columns(raw: Mapping[str, Any]) -> set[str]:
    """Other columns the codebook itself declares: its ``background`` keys and the ``voice`` id."""
    names: set[str] = set()
    background = raw.get("background")
    if isinstance(background, Mapping):
        names |= {str(key) for key in background}
    voice = raw.get("voice")
    if isinstance(voice, Mapping) and isinstance(voice.get("id"), str):
        names.add(voice["id"])
    return names


def _check_names(
    domains: tuple[Domain, ...], items: tuple[Item, ...], where: str, reserved: set[str] | frozenset
) -> None:
    """Refuse ids that are not words or that collide with another column; name both."""
    for kind, ids in (("domains", [d.id for d in domains]), ("items", [i.id for i in items])):
        for name in ids:
            if not _ID.fullmatch(name):
                raise _fail(
                    f"{where}: {kind}.{name}",
                    "id",
                    f"must be a word (letters, digits or _, then also . or -), got {name!r}; "
                    "ids become column names in the data and in published tables",
                )
            if name in reserved:
                what = "domain" if kind == "domains" else "item"
                raise _fail(
                    f"{where}: {kind}.{name}",
                    "id",
                    f"the {what} id {name!r} is also the name of the background column "
                    f"{name!r} of survey files; rename the {what} (e.g. {name}_{what})",
                )
    columns: dict[str, str] = {}
    for domain in domains:
        columns[domain.id] = f"the score column of domain {domain.id!r}"
    for domain in domains:
        flag = f"low_{domain.id}"
        if flag in columns:
            raise _fail(
                f"{where}: domains.{flag}",
                "id",
                f"{flag!r} is also the low-score flag of domain {domain.id!r}; rename one of them",
            )
        columns[flag] = f"the low-score flag of domain {domain.id!r}"
    for item in items:
        if item.id in columns:
            raise _fail(
                f"{where}: items.{item.id}",
                "id",
                f"the item id {item.id!r} is also {columns[item.id]}; "
                "an item column and a score column cannot share a name, rename the item",
            )


def _no_duplicates(ids: list[str], where: str, key: str, what: str) -> None:
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})
    if duplicates:
        raise _fail(where, key, f"has duplicate {what}(s): {', '.join(duplicates)}")
