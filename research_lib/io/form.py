"""One form model built from a codebook, shared by every way of collecting the data.

:func:`build_form` turns a :class:`~research_lib.io.codebook.Codebook` into a list of
:class:`Section` objects holding :class:`Question` objects. The XLSForm, the paper
questionnaire, the data-entry template and the reader of Kobo/ODK exports all
use this one model, so they cannot drift apart: a column name, a choice code or
a label exists once, here.

The order of a form:

1. the assent section: the codebook's ``instructions.intro`` read to the child,
   a note that taking part is voluntary, and the question ``assent`` (``yes`` /
   ``no``); every later section is asked only after a ``yes``;
2. the background section (filled in by the researcher with the child):
   ``service_id``, ``placement_type``, ``oblast`` (the 28 oblasts of
   ``data/reference/oblasts.csv``, by NUTS-3 code), ``age`` (whole years within
   the instrument's target ages), ``sex`` (optional) and ``wave``;
   ``respondent_id`` is a calculated random id;
3. one section per domain: the domain's instruction, its filter question (if
   any) and its items, each with the scale's codes and the missing codes the
   codebook offers to the child (``missing_offered``, e.g. -8 "Не знам", -7 "Не
   искам да кажа");
4. the closing section: the free-text question (``voice``) and the thanks with
   the children's helpline 116 111.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from research_lib.errors import CodebookError, InputError
from research_lib.io.codebook import AgeVersion, Codebook, Item
from research_lib.io.oblasts import load_oblasts

__all__ = [
    "Choice",
    "Question",
    "Section",
    "build_form",
    "data_questions",
    "age_version",
    "form_texts",
    "offered_missing_codes",
    "target_ages",
    "HELPLINE",
    "TEXTS",
    "ASSENT",
    "ASSENT_YES",
    "ASSENT_NO",
]

#: The Bulgarian National Child Helpline (free of charge, 24 hours).
HELPLINE = "116 111"
#: Column of the child's assent and its two codes.
ASSENT, ASSENT_YES, ASSENT_NO = "assent", "yes", "no"

#: Wording the form adds around the codebook's own texts (bg, en).
TEXTS: dict[str, dict[str, str]] = {
    "voluntary": {
        "bg": (
            "Не е задължително да участваш. Можеш да пропуснеш всеки въпрос и да спреш, "
            "когато поискаш – нищо лошо няма да ти се случи заради това."
        ),
        "en": (
            "You don't have to take part. You can skip any question and stop whenever you "
            "want – nothing bad will happen to you because of that."
        ),
    },
    "assent": {
        "bg": "Искаш ли да отговориш на въпросите?",
        "en": "Do you want to answer the questions?",
    },
    "assent_yes": {"bg": "Да, искам", "en": "Yes, I do"},
    "assent_no": {"bg": "Не, не искам", "en": "No, I don't"},
    "assent_no_paper": {
        "bg": "Ако не искаш, не е нужно да продължаваш. Дай листовете на човека, който ти ги даде.",
        "en": "If you don't want to, you don't need to go on. Give the pages back to the person who gave them to you.",
    },
    "declined": {
        "bg": (
            "Благодарим ти! Не е нужно да отговаряш на въпросите. Ако искаш да поговориш с "
            f"някого, можеш да се обадиш безплатно на Националната телефонна линия за деца {HELPLINE}."
        ),
        "en": (
            "Thank you! You don't need to answer the questions. If you want to talk to someone, "
            f"you can call the free National Child Helpline on {HELPLINE}."
        ),
    },
    "outro": {
        "bg": (
            "Благодарим ти! Ако искаш да поговориш с някого, можеш да се обадиш безплатно "
            f"на Националната телефонна линия за деца {HELPLINE}."
        ),
        "en": (
            "Thank you! If you want to talk to someone, you can call the free National Child "
            f"Helpline on {HELPLINE}."
        ),
    },
    "background": {
        "bg": "За детето (попълва изследователят)",
        "en": "About the child (researcher)",
    },
    "start": {"bg": "Начало", "en": "Start"},
    "end": {"bg": "Край", "en": "End"},
    "age_constraint": {
        "bg": "Възрастта трябва да е от {low} до {high} години.",
        "en": "The age must be from {low} to {high} years.",
    },
    "sex_hint": {
        "bg": "Оставете празно, ако детето не иска да каже.",
        "en": "Leave empty if the child does not want to say.",
    },
    "voice_hint": {
        "bg": "Можеш да не отговаряш. Моля, не пиши имена.",
        "en": "You don't have to answer. Please don't write any names.",
    },
    "filter_no": {
        "bg": "Ако отговорът ти е „Не“, премини към следващата част на въпросника.",
        "en": "If your answer is ‘No’, go on to the next part of the questionnaire.",
    },
}


@dataclass(frozen=True)
class Choice:
    """One answer option: the code written to the data and its label per language."""

    code: str
    label: Mapping[str, str]
    #: The missing code an "I don't know" / "I don't want to say" option stands for.
    missing: bool = False


@dataclass(frozen=True)
class Question:
    """One question (or note) of the form.

    ``name`` is the data column; ``kind`` is ``select_one``, ``integer``,
    ``text``, ``calculate`` or ``note``; ``list_name`` names the choice list of a
    ``select_one``; ``relevant`` is an XLSForm expression (``None``: always asked).
    """

    name: str
    kind: str
    label: Mapping[str, str] = field(default_factory=dict)
    list_name: str | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = False
    relevant: str | None = None
    hint: Mapping[str, str] = field(default_factory=dict)
    constraint: str | None = None
    constraint_message: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    calculation: str | None = None
    item: Item | None = None
    #: Set on a filter question: the code that skips the domain's items.
    skip_code: str | None = None


@dataclass(frozen=True)
class Section:
    """A group of the form: a domain, the background, the assent or the closing."""

    name: str
    label: Mapping[str, str]
    questions: tuple[Question, ...]
    relevant: str | None = None
    intro: Mapping[str, str] = field(default_factory=dict)
    domain: str | None = None


def _texts(value: Any) -> dict[str, str]:
    """``{bg: ..., en: ...}`` from a codebook text (a mapping or a plain string)."""
    if isinstance(value, Mapping):
        return {str(k): " ".join(str(v).split()) for k, v in value.items() if v is not None}
    if value is None:
        return {}
    return {"bg": str(value), "en": str(value)}


def form_texts(book: Codebook) -> dict[str, dict[str, str]]:
    """The form's fixed texts, with the codebook's intro and outro where it has them."""
    texts = {key: dict(value) for key, value in TEXTS.items()}
    instructions = book.extra.get("instructions") or {}
    texts["intro"] = _texts(instructions.get("intro")) or {
        "bg": "Здравей! Искаме да разберем как живееш. Няма верни и грешни отговори.",
        "en": "Hello! We want to find out how you live. There are no right or wrong answers.",
    }
    outro = _texts(instructions.get("outro"))
    if outro and all(HELPLINE in text for text in outro.values()):
        texts["outro"] = outro
    texts["title"] = _texts(book.extra.get("title")) or {
        "bg": book.instrument,
        "en": book.instrument,
    }
    texts["recall"] = _texts(book.extra.get("recall_period"))
    return texts


def offered_missing_codes(book: Codebook) -> tuple[int, ...]:
    """The missing codes shown to the child as answers (``missing_offered``).

    Without the key, every missing code that has a label in ``missing_labels``.
    """
    labels = book.extra.get("missing_labels") or {}
    offered = book.extra.get("missing_offered")
    if offered is None:
        return tuple(c for c in book.missing_codes if c in labels)
    if not isinstance(offered, list) or any(c not in book.missing_codes for c in offered):
        raise CodebookError(
            f"{book.instrument}: key 'missing_offered' must list codes from missing_codes "
            f"{list(book.missing_codes)}, got {offered!r}"
        )
    return tuple(offered)


def _missing_choices(book: Codebook) -> tuple[Choice, ...]:
    labels = book.extra.get("missing_labels") or {}
    return tuple(
        Choice(str(code), _texts(labels.get(code, str(code))), missing=True)
        for code in offered_missing_codes(book)
    )


def target_ages(book: Codebook, version: AgeVersion | None = None) -> tuple[int, int]:
    """The ages the form accepts: the version's, else ``target_age``, else the background's."""
    if version is not None:
        return version.min, version.max
    target = book.extra.get("target_age") or {}
    age = (book.extra.get("background") or {}).get("age") or {}
    low = target.get("min", age.get("min", 5))
    high = target.get("max", age.get("max", 25))
    return int(low), int(high)


def _scale_choices(book: Codebook, scale_name: str, with_missing: bool) -> tuple[Choice, ...]:
    scale = book.scales[scale_name]
    choices = []
    for position, code in enumerate(range(scale.min, scale.max + 1)):
        label = {lang: labels[position] for lang, labels in scale.labels.items()}
        choices.append(Choice(str(code), label or {"bg": str(code), "en": str(code)}))
    return tuple(choices) + (_missing_choices(book) if with_missing else ())


def _background(book: Codebook, version: AgeVersion | None, wave: str | None) -> list[Question]:
    spec = book.extra.get("background") or {}

    def label(name: str, fallback: str) -> dict[str, str]:
        return _texts((spec.get(name) or {}).get("label")) or {"bg": fallback, "en": fallback}

    placement = (spec.get("placement_type") or {}).get("values") or {}
    placement_choices = tuple(
        Choice(str(code), {lang: str(text) for lang, text in v.items() if lang in ("bg", "en")})
        for code, v in placement.items()
    )
    oblasts = load_oblasts()
    oblast_choices = tuple(
        Choice(str(code), {"bg": row.name_bg, "en": row.name_en})
        for code, row in oblasts.iterrows()
    )
    sex = (spec.get("sex") or {}).get("values") or {
        "f": {"bg": "Момиче", "en": "Girl"},
        "m": {"bg": "Момче", "en": "Boy"},
    }
    sex_choices = tuple(Choice(str(code), _texts(v)) for code, v in sex.items())
    low, high = target_ages(book, version)
    message = {
        lang: text.format(low=low, high=high) for lang, text in TEXTS["age_constraint"].items()
    }
    return [
        Question("service_id", "text", label("service_id", "service_id"), required=True),
        Question(
            "placement_type",
            "select_one",
            label("placement_type", "placement_type"),
            "placement_type",
            placement_choices,
            required=True,
        ),
        Question(
            "oblast",
            "select_one",
            label("oblast", "oblast"),
            "oblast",
            oblast_choices,
            required=True,
        ),
        Question(
            "age",
            "integer",
            label("age", "age"),
            required=True,
            constraint=f". >= {low} and . <= {high}",
            constraint_message=message,
            hint={lang: f"{low}–{high}" for lang in ("bg", "en")},
        ),
        Question(
            "sex", "select_one", label("sex", "sex"), "sex", sex_choices, hint=TEXTS["sex_hint"]
        ),
        Question("wave", "text", label("wave", "wave"), required=True, default=wave),
    ]


def _age_condition(book: Codebook, item: Item) -> str | None:
    if not item.asked_in:
        return None
    parts = []
    for version_id in item.asked_in:
        version = book.age_version(version_id)
        parts.append(f"(${{age}} >= {version.min} and ${{age}} <= {version.max})")
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def age_version(book: Codebook, version: str | None) -> AgeVersion | None:
    """The codebook's age version ``version`` (None for None); InputError when unknown."""
    if version is None:
        return None
    try:
        return book.age_version(version)
    except KeyError:
        known = (
            ", ".join(v.id for v in book.age_versions) or "none (the codebook has no age_versions)"
        )
        raise InputError(f"unknown age version {version!r}; the codebook has: {known}.") from None


def _asked_in_version(item: Item, version: AgeVersion | None) -> bool:
    return version is None or not item.asked_in or version.id in item.asked_in


def build_form(
    book: Codebook,
    *,
    version: str | None = None,
    easy_read: bool = False,
    wave: str | None = None,
) -> list[Section]:
    """The form for ``book`` as sections of questions.

    Parameters
    ----------
    book : Codebook
        The instrument.
    version : str, optional
        An age version id (``age_versions``): only the items asked in it, and
        the version's ages. Default: every item, each asked at the ages its
        ``asked_in`` says.
    easy_read : bool
        Use each item's easy-read wording where the codebook has one.
    wave : str, optional
        Default answer of the ``wave`` question (e.g. ``"2026"``).

    Returns
    -------
    list of Section
    """
    chosen = age_version(book, version)
    texts = form_texts(book)
    for item in book.items:
        if not item.id[:1].isalpha() and not item.id.startswith("_"):
            raise CodebookError(
                f"{book.instrument}: item id {item.id!r} cannot be a form question name; "
                "it must start with a letter."
            )
    asked = f"${{{ASSENT}}} = '{ASSENT_YES}'"
    sections = [
        Section(
            "consent",
            texts["start"],
            (
                Question("intro", "note", texts["intro"]),
                Question("voluntary", "note", texts["voluntary"]),
                Question(
                    ASSENT,
                    "select_one",
                    texts["assent"],
                    ASSENT,
                    (
                        Choice(ASSENT_YES, texts["assent_yes"]),
                        Choice(ASSENT_NO, texts["assent_no"]),
                    ),
                    required=True,
                ),
                Question(
                    "declined", "note", texts["declined"], relevant=f"${{{ASSENT}}} = '{ASSENT_NO}'"
                ),
            ),
        ),
        Section("background", texts["background"], tuple(_background(book, chosen, wave)), asked),
    ]
    for domain in book.domains:
        items = [it for it in book.items_of(domain.id) if _asked_in_version(it, chosen)]
        if not items:
            continue
        questions: list[Question] = []
        instruction = _texts(domain.extra.get("instruction"))
        filter_spec = domain.extra.get("filter")
        condition = None
        if isinstance(filter_spec, Mapping) and filter_spec.get("id"):
            scale_name = str(filter_spec.get("scale", ""))
            if scale_name not in book.scales:
                raise CodebookError(
                    f"{book.instrument}: domains.{domain.id}: filter scale {scale_name!r} unknown"
                )
            choices = _scale_choices(book, scale_name, with_missing=False)
            skip = choices[0].code  # the lowest code ("No") skips the items
            name = str(filter_spec["id"])
            questions.append(
                Question(
                    name,
                    "select_one",
                    _texts(filter_spec.get("text")),
                    f"{scale_name}_filter",
                    choices,
                    hint=TEXTS["filter_no"],
                    skip_code=skip,
                )
            )
            condition = f"${{{name}}} != '{skip}'"
        for item in items:
            text = dict(item.text)
            if easy_read:
                text.update(item.easy_read)
            age_condition = None if chosen is not None else _age_condition(book, item)
            relevant = " and ".join(c for c in (condition, age_condition) if c) or None
            questions.append(
                Question(
                    item.id,
                    "select_one",
                    _texts(text),
                    item.scale,
                    _scale_choices(book, item.scale, with_missing=True),
                    relevant=relevant,
                    item=item,
                )
            )
        sections.append(
            Section(
                domain.id if domain.id[:1].isalpha() else f"d_{domain.id}",
                _texts(domain.label),
                tuple(questions),
                asked,
                intro=instruction,
                domain=domain.id,
            )
        )
    voice = book.extra.get("voice") or {}
    closing: list[Question] = []
    if voice:
        closing.append(
            Question(
                str(voice.get("id", "voice")),
                "text",
                _texts(voice.get("text") or voice.get("label")),
                hint=TEXTS["voice_hint"],
            )
        )
    closing.append(Question("thanks", "note", texts["outro"]))
    sections.append(Section("closing", texts["end"], tuple(closing), asked))
    return sections


def data_questions(sections: Sequence[Section]) -> list[Question]:
    """Every question that writes a data column (not notes), in form order."""
    return [q for s in sections for q in s.questions if q.kind != "note"]
