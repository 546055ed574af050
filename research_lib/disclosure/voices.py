"""Children's own words: redaction of identifiers and disclosure-safe selection of quotes.

A child's free-text answer (column ``voice``, mostly Bulgarian, sometimes
English) is evidence: it is kept as written, never paraphrased or invented. It
is shown only

* after :func:`redact` has replaced every identifier it recognises by a
  placeholder (:data:`PLACEHOLDERS`), and
* from a group with at least ``min_cell`` children who answered the question
  (:func:`select_quotes`), so a quote cannot be traced to one of very few children.

:func:`redact` recognises, in this order: e-mail addresses, also obfuscated
(``ivan.petrov(at)gmail.com``, ``ivan at abv dot bg``, ``маймунка``); web links,
``@handles`` and user names (``ivan_2011``); ЕГН / personal numbers; phone numbers
(Bulgarian mobile and landline formats, ``+359`` / ``00359``, and digits in groups
such as ``987 65 43``); dates; street addresses with or without dots (``ул.``,
``ул``, ``бул``, ``жк``, ``бл``, ``вх``, ``ап`` ..., ``str.``, ``Street``, and
``на Шипка 12``); towns and villages (``гр Видин``, ``с. ...``, ``община ...``);
services and schools by abbreviation (ЦНСТ, ЦНСТДБУ, КСУ, ДДЛРГ, ЦОП, СУ, ОУ, ДГ,
ПГ ...) followed by a name, a quoted name, a number or a place, and by kind
(``Математическата гимназия``); personal names after a self-introduction or a
kinship / role word; then, word by word (:func:`_name_tokens`), every capitalised
Cyrillic word inside a sentence (a proper noun in Bulgarian) except ordinary words
children capitalise, listed first names, diminutives and vocatives (:data:`COMMON_FIRST_NAMES`
and ``data/reference/bg_first_names.csv``) and listed surnames in all their forms
(``bg_surnames.csv``) anywhere, names in capitals (``ГЕОРГИ ИВАНОВ``), and listed
names in lower case when they are not also ordinary words. :func:`select_quotes`
also masks every respondent or service id of the file and any code shaped like one.

Every pattern runs in time linear in the length of the answer (see :func:`_rules`);
``benchmarks/bench_redact.py`` measures 100 KB and 1 MB answers of adversarial shapes.

Notes
-----
Redaction is automatic and errs on the side of removing too much. It cannot be
complete: a person must read every quote before it is published. Known limits
(the README section "Children's own words: what redaction does not catch" has
the full list):

* a name in no list that opens a sentence on its own, and names that are also
  ordinary words (``Вяра``, ``Надежда``, ``Любов``) at the start of a sentence,
  are kept - on purpose, so that ``Надежда няма`` stays as written;
* nicknames and spellings not in the lists, names in Latin letters beyond a short
  list, places named without a keyword at the start of a sentence;
* digits written as words, other obfuscations;
* over-redaction: any capitalised word inside a sentence that is not in the short
  list of ordinary ones (brands, titles) is replaced, and so are groups of digits
  that look like a phone number.

Examples
--------
>>> redact("Казвам се Иван Петров и искам да се прибера у дома.")
'Казвам се [име] и искам да се прибера у дома.'
>>> redact("My name is Maria, call me on +359 88 812 3456.", language="en")
'My name is [name], call me on [phone].'
"""

from __future__ import annotations

import csv
import functools
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from research_lib.errors import InputError
from research_lib.paths import REFERENCE_DIR

__all__ = [
    "PLACEHOLDERS",
    "COMMON_FIRST_NAMES",
    "COMMON_FIRST_NAMES_LATIN",
    "DEFAULT_SEED",
    "redact",
    "select_quotes",
]


def _words(text: str) -> list[str]:
    """The whitespace-separated words of ``text`` (for the word lists below)."""
    return text.split()


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (``a(?:b|c)|d`` -> ``a(?:b|c)``, ``d``)."""
    words, depth, current = [], 0, ""
    for char in pattern:
        if char == "|" and depth == 0:
            words.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    words.append(current)
    return words


#: What replaces each kind of identifier, per language of the report.
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "bg": {
        "name": "[име]",
        "phone": "[телефон]",
        "email": "[имейл]",
        "address": "[адрес]",
        "date": "[дата]",
        "id_number": "[ЕГН]",
        "place": "[място]",
        "profile": "[профил]",
        "code": "[код]",
    },
    "en": {
        "name": "[name]",
        "phone": "[phone]",
        "email": "[e-mail]",
        "address": "[address]",
        "date": "[date]",
        "id_number": "[id number]",
        "place": "[place]",
        "profile": "[profile]",
        "code": "[code]",
    },
}

#: Seed of the reproducible sample of quotes.
DEFAULT_SEED = 20251124

#: Common Bulgarian first names and diminutives (male, female; incl. Turkish and Roma
#: names common in Bulgaria). Words that are also common nouns or adjectives
#: (Любов, Надежда, Вяра, Радост, Мила, Светла, София as the city) are left out.
COMMON_FIRST_NAMES: frozenset[str] = frozenset(
    _words("""
    Адриан Александър Алекс Сашо Сашко Ален Ангел Андрей Антон Асен Атанас Наско Благой
    Божидар Борис Боби Боян Бойко Валентин Вальо Васил Васко Велизар Венелин Венци Веселин
    Виктор Владимир Владо Георги Гошо Жоро Григор Даниел Дани Данчо Деян Денис Димитър
    Митко Митьо Димо Добромир Драгомир Емил Живко Здравко Иван Ванката Ваньо Иванчо Ивайло
    Иво Илия Илиян Йордан Йоан Калоян Камен Кирил Константин Коце Коцето Красимир Краси
    Кристиан Любомир Любо Марин Мартин Методи Михаил Мишо Младен Никола Николай Ники Огнян
    Павел Петър Пешо Петко Пламен Радослав Радо Румен Самуил Светослав Симеон Славчо
    Станислав Стефан Стефчо Стоян Теодор Тео Тодор Тошко Тихомир Филип Христо Ицо Цветан
    Цветомир Чавдар Юлиан Явор Яни Ахмед Мехмед Мустафа Хасан Юсуф Ибрахим Салим Али Ерай
    Мария Мими Маша Ана Ани Анна Анелия Антония Бистра Борислава Валентина Валя Ваня Вероника
    Виктория Вики Виолета Габриела Галя Галина Гергана Гери Дарина Деница Дени Десислава Деси
    Диана Димитрина Донка Дора Ева Евгения Екатерина Катя Елена Ели Елица Емилия Ивана
    Иванка Ивет Йоана Йорданка Зорница Изабела Илияна Ирина Калина Камелия Катерина Кристина
    Криси Лили Лиляна Лора Люба Магдалена Маргарита Марина Мариана Марияна Мая Милена Михаела
    Моника Надя Наталия Невена Нели Никол Николета Нора Павлина Петя Пепа Пепи Полина Радина
    Радка Роза Росица Роси Румяна Сабина Светлана Силвия Симона Снежана Соня Стефани Стефка
    Таня Татяна Теодора Теди Тони Цветелина Цвети Юлия Яна Ясмина Айше Фатме Емине Зейнеп
    """)
)

#: Common first names in Latin transliteration, for answers written in Latin letters.
COMMON_FIRST_NAMES_LATIN: frozenset[str] = frozenset(
    _words("""
    Ivan Vanko Georgi Gosho Dimitar Mitko Nikolay Nikola Niki Petar Pesho Aleksandar
    Alexander Alex Sasho Stefan Martin Viktor Daniel Kristian Boris Hristo Todor Yordan Vasil
    Kaloyan Plamen Emil Kiril Teodor Simeon Stoyan Ahmed Mehmed Maria Mariya Mimi Elena Ivana
    Yana Gergana Desislava Desi Daniela Nikol Viktoria Victoria Aleksandra Alexandra Teodora
    Kristina Simona Petya Galya Vanya Silvia Rositsa Tsvetelina Emilia Anna Ani Iva Dora
    """)
)

_UP, _LOW = "А-ЯЍЁ", "а-яѝё"
_CAP = rf"[{_UP}][{_LOW}]+(?:-[{_UP}][{_LOW}]+)?"
_LCAP = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_ANY_CAP = rf"(?:{_CAP}|{_LCAP})"
_UPPER_WORD = rf"[{_UP}]{{2,}}(?![\w])"
_WORD = rf"[{_UP}{_LOW}A-Za-z]+(?:-[{_UP}{_LOW}A-Za-z]+)?"
_SURNAME_LOWER = rf"[{_LOW}]+(?:ов|ев|ова|ева|ски|ска)\b"
#: A lower-case Latin word after a self-introduced first name ("john smith"), unless it
#: is an ordinary English word that often follows a name.
_LATIN_LOWER_SURNAME = (
    r"(?!(?:and|i|im|am|from|but|or|so|to|in|at|on|my|me|is|was|the|a|an|with|who|live|lives"
    r"|living|because|please|age|aged|years?|have|like|want|not|too|here|there|now)\b)[a-z]{2,}\b"
)

#: Capitalised words that are never a name: pronouns, conjunctions, greetings, frequent
#: verbs at the start of a sentence, family words children capitalise (``Мама``).
_NOT_FIRST_NAMES = frozenset(
    _words("""
    Аз Ти Той Тя То Ние Вие Те Да Не И А Но Или В Във На С Със За От По При До Без Към Над
    Под Пред След Искам Искаме Моля Когато Ако Много Ами Мисля Може Трябва Тук Там Сега
    Винаги Никога Само Още Всички Всеки Нищо Някой Благодаря Обичам Харесвам Мразя Здравей
    Здравейте Защото Както Като Дали Кога Къде Защо Как Какво Кой Коя Кое Кои Баба Дядо
    Мама Майка Майко Мамо Татко Тате Бабо Дядо Леля Лельо Чичо Брат Братко Сестра Сестро Бате
    Батко Како Кака Господин Госпожа Госпожо Господине Учителко Живея Казвам Пиша Живеем Дом
    Център Моят Моята Моето Моите Мой Моя Мое Мои Твоят Нашият Нашата Нашите Този Тази Това
    Тези Онзи Онази Онова Някога Вчера Днес Утре Понякога Обикновено Хубаво Добре Лошо Иначе
    Затова Обаче Освен Според Чрез Между Около Вместо Докато Преди Откакто Също Даже Дори
    Просто Наистина Разбира Естествено Значи Например Първо Второ Накрая Всъщност Надявам
    Желая Мечтая Чувствам Нямам Имам Имаме Нямаме Бих Бихме Ще Щях Беше Бяхме Бях Съм Сме
    Е Са Ли Ех Ох Ах Ей Хей Здрасти Чао Мерси Благодарим Извинете Извинявай Моля Ура Браво
    Бог Боже Господ Господи Исус Христос Коледа Великден Рождество Бъдни Новата Нова Година
    Гергьовден Никулден Баба Марта Мартеница България Българин Българка Българи Европа Англия
    Германия Франция Италия Испания Гърция Турция Русия Америка САЩ Интернет Фейсбук
    Инстаграм Тикток ТикТок Ютюб Вайбър Месинджър Гугъл Майнкрафт Фортнайт Роблокс Лего Барби
    Дисни Нетфликс Покемон Самсунг Айфон Плейстейшън Нинтендо Ютуб Гугъл Меси Роналдо Барселона
    Реал Математика Английски Български Руски Немски История География Биология Химия Физика
    Литература Информатика Музика Рисуване Физическо Футбол Баскетбол Волейбол Плуване Тенис
    Семейство Семейството Лято Зима Пролет Есен Ваканция Ваканцията Рожден Лагер Директор
    Директора Директорката Полицай Лекар Лекарка Учител Учителка Куче Кучето Коте Котка Роми
    Ромски Ромка Ром Цигани Турци Турски Мюсюлмани Мюсюлманин Християни Православни Пиг Боб
    Дядо Коледа Великденски Президент Министър Омбудсман Омбудсмана Полиция Полицията
    Понеделник Вторник Сряда Четвъртък Петък Събота Неделя Януари
    Февруари Март Април Май Юни Юли Август Септември Октомври Ноември Декември Училище
    Социалните Социална Социален Служба Закрила Детето Агенция Държавата Общината Съдът Съд
    I My The A An And But Or In On At To With For From Dear Hello Hi Thanks Please When If We
    They He She It Mr Mrs Ms Miss Mx Dr
    """)
)
#: Capitalised words ending like a surname that are ordinary words.
_NOT_SURNAMES = frozenset(
    _words("""
    Готов Готова Готови Нов Нова Нови Толкова Такова Каква Какво Нея Своя Дева Преди Между
    Година Причина Истина Машина Картина Градина Половина Малина Родина Чужбина Заради Един
    Сина Син Лев Лева Гнев Зов Лов Ров Основа Слова Глава Права Права Днеска Вечерта Вкъщи
    Детски Детска Български Българска Английски Английска Руски Руска Човешки Човешка
    Всички Никакви Такива Някакви Какви Жени Мъже Пътува Помогнаха Дръжки Игри Игрите
    """)
)

#: Abbreviations of social services and schools (followed by a name, a number or a place).
_SERVICES = (
    r"ЦНСТДБУ|ЦНСТПЛУ|ЦНСТДМУ|ЦНСТМ|ЦНСТ|ДДЛРГ|ДМСГД|ДДМУИ|ДДУИ|ДДЛРГ|ЦОПБУ|ЦОП|ЦСРИ|КСУДС|КСУ"
    r"|ЦРДУ|ЦСОП|ЦПЛР|ЦЗПД|ЗЖ|ПЗД|СЗД|ВУИ|СПИ|ЦВН|ДСП|ОЗД|АСП|ЦКПД|ЦСРДУ|ЦРД|ЦПЛУ"
)
_SCHOOLS = (
    r"СОУ|СУ|ОУ|ОбУ|НУ|ПГ|ПМГ|ПГИ|ПГЕ|ПГТ|ПГСС|ПГМЕТ|ПГЛП|ЕГ|ЧСУ|ЧОУ|СПУ|ДГ|ЦДГ|ОДЗ|НГ|НУИ|СМГ"
    r"|ПЧМГ|НПМГ|ПЕГ|ГПЧЕ|СЕУ|ЧПГ|ПУ|СПИ"
)
#: Kinds of school written as an adjective before ``гимназия`` / ``училище``.
_SCHOOL_ADJECTIVES = (
    r"математическа|природо-математическа|природоматематическа|английска|немска|френска"
    r"|испанска|италианска|руска|езикова|спортна|спортно|търговска|професионална|професионално"
    r"|техническа|художествена|музикална|хуманитарна|икономическа|строителна|селскостопанска"
    r"|медицинска|помощно|вечерно|частна|частно|туристическа|американска|римокатолическа"
)
_KIN_BG = (
    r"братовчедка(?:та)?|братовчед(?:ът|а)?|братчето|братче|брат(?:ът|а)?|батко|бате|кака"
    r"|сестричката|сестричка|сестра(?:та)?|майка(?:та)?|мама|бащата|баща|татко|тате|баба|дядо"
    r"|леля|чичо|вуйчо|вуйна|стринка|стрина|приятелката|приятелка|приятел(?:ят|я)?|гаджето"
    r"|гадже|възпитателката|възпитателка|възпитател(?:ят|я)?|учителката|учителка|учител(?:ят|я)?"
    r"|директорката|директор(?:ът|а)?|психоложката|психолог(?:ът|а)?|детегледачката"
    r"|детегледачка|социал\w+\s+работни\w+|госпожица|госпожа|господин|г-жа|г-ца|г-н"
)
_KIN_EN = (
    r"brother|sister|mum|mom|mummy|mother|dad|daddy|father|grandma|granny|grandmother|grandpa"
    r"|grandfather|aunt|auntie|uncle|cousin|boyfriend|girlfriend|friend|carer|caregiver"
    r"|teacher|social\s+worker|key\s*worker|director|psychologist|Mrs|Mr|Ms|Mx|Miss|Dr"
)
_INTRO = (
    r"казвам\s+се|аз\s+се\s+казвам|името\s+ми\s+е|името\s+ми|викат\s+ми|наричат\s+ме"
    r"|казват\s+ми|my\s+name\s+is|my\s+name's|i\s+am\s+called|I\s+am\s+called"
)
_I_AM = r"аз\s+съм|I'm|I\s+am|they\s+call\s+me|people\s+call\s+me|call\s+me"
_KIN = _KIN_BG + "|" + "|".join(rf"{word}\.?" for word in _alternatives(_KIN_EN))
_ADDRESS_DOT = (
    r"ул\.|бул\.|ж\.\s?к\.?|жк\.|кв\.|бл\.|вх\.|ап\.|ет\.|str\.|ul\.|bul\.|bl\.|vh\.|apt?\.|blvd\.?"
    r"|Str\.|Ul\.|Bul\.|Bl\.|Apt?\.|Blvd\.?|УЛ\.|БУЛ\.|ЖК\.|Ж\.К\.|БЛ\.|ВХ\.|АП\."
)
_ADDRESS_SHORT = r"ул|бул|жк|ж\s?к|кв|бл|вх|ап|ет"
_ADDRESS_WORDS = (
    r"улицата|улица|булеварда|булевард|квартала|квартал|блока|блок|вход|апартамент|етаж"
    r"|ulitsa|street|boulevard|block|entrance|apartment|flat|floor"
)
_TOWN_WORDS = (
    r"гр\.|с\.|гр\s|град\s|село\s|община\s|област\s|общ\.|обл\.|town\s+of|village\s+of"
    r"|Town\s+of|Village\s+of"
)
_INSTITUTION_WORDS = r"училище|гимназия|детска\s+градина|градина|център|дом|комплекс|приют"
_LINK_STARTS = "|".join(
    [
        *(f"{scheme}://" for scheme in ("http", "https", "HTTP", "HTTPS", "Http", "Https")),
        r"www\.",
        r"WWW\.",
        r"Www\.",
        *(
            rf"{site}\.com/"
            for site in _alternatives(
                "facebook|Facebook|fb|FB|instagram|Instagram|tiktok|TikTok|youtube|YouTube"
                "|snapchat|Snapchat|twitter|Twitter"
            )
        ),
        r"@(?=\w)",
    ]
)
_MONTHS_BG = "януари|февруари|март|април|май|юни|юли|август|септември|октомври|ноември|декември"
_MONTHS_EN = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
#: Top-level domains an obfuscated e-mail must end with (``ivan at abv dot bg``).
_TLDS = r"com|bg|net|org|eu|info|io|me|co|uk|de|ru|tr|gr|ro|us|edu|fr|it|es|nl|at|ch|ua|rs|mk"
#: Words that follow a number and show it is not a house number.
_NOT_HOUSE = (
    r"години|годин|год|г\.|клас|часа|час|лв|лева|км|пъти|дни|деня|месеца|седмици|деца|стаи"
    r"|души|минути|сутринта|вечерта|%|евро|от|до|и"
)

_DIGIT = re.compile(r"\d")
_UPPER_PAIR = re.compile(rf"[{_UP}]{{2}}")
_GATE_WORDS: dict[str, tuple[str, ...]] = {
    "at": ("@", "(at", "[at", "{at", "<at", " at ", "(а)", "(a)", "маймунка", "кльомба"),
    "link": ("http", "www.", ".com/", "@"),
    "egn": ("егн", "лнч", "egn", "personal"),
    "address": (
        "ул",
        "бул",
        "ж",
        "кв",
        "бл",
        "вх",
        "ап",
        "ет",
        "str",
        "ul",
        "bl",
        "vh",
        "ap",
        "street",
        "road",
        "rd.",
        "avenue",
        "ave.",
        "boulevard",
        "lane",
        "square",
        "flat",
        "floor",
        "block",
        "entrance",
    ),
    "town": ("гр", "с.", "село", "общ", "обл", "town of", "village of"),
    "street": (
        "street",
        "st.",
        "road",
        "rd.",
        "avenue",
        "ave.",
        "boulevard",
        "blvd",
        "lane",
        "square",
    ),
    "school": ("гимназия", "училище"),
    "institution": ("училище", "гимназия", "градина", "център", "дом", "комплекс", "приют"),
    "intro": ("казвам", "казват", "името", "викат", "наричат", "name", "called"),
    "i_am": ("аз съм", "i'm", "i am", "call me"),
}


_KIN_STEMS = (
    *_words("""
    брат батк бате как сестр майк мама баща татк тате баба дядо леля чичо вуй стрин прият
    гадже възпит учител директор психол детегл социал госп г-жа г-ца г-н brother sister mum
    mom mother dad father grand aunt uncle cousin friend carer caregiver teacher worker
    director psychologist mr ms mx miss dr
    """),
)


def _gates(text: str) -> dict[str, bool]:
    """Cheap tests (substring searches) of which rules can match ``text`` at all."""
    low = text.lower()
    digit = _DIGIT.search(text) is not None
    gates = {key: any(word in low for word in words) for key, words in _GATE_WORDS.items()}
    gates["digit"] = digit
    gates["handle"] = digit or "_" in text
    gates["town"] = gates["town"] or digit
    gates["institution"] = gates["institution"] or _UPPER_PAIR.search(text) is not None
    gates["school_number"] = digit and gates["institution"]
    gates["kin"] = any(word in low for word in _KIN_STEMS)
    return gates


def _cased(alternatives: str) -> str:
    """``a|b`` -> ``a|A|b|B``: the same words starting in lower or upper case.

    Patterns that start with a plain alternation of words let the regular
    expression engine skip quickly to the positions where one can start,
    which ``(?i:...)`` or a leading ``\\b`` would prevent. Only top-level
    ``|`` separate alternatives.
    """
    words = _alternatives(alternatives)
    out = []
    for word in words:
        out.append(word)
        if word[:1].isalpha() and word[:1].islower():
            out.append(word[0].upper() + word[1:])
    return "|".join(out)


def _kw(alternatives: str, cased: bool = True, before: str = r"\w") -> str:
    """Alternatives that must start a word, written so the engine can skip to them fast.

    Each alternative (and, if ``cased``, the same starting with a capital)
    begins with its plain first letter; the check that no ``before`` character
    precedes the word comes right after that letter (``ул`` ->
    ``у(?<!\\w.)л``). A pattern that starts with a plain alternation of letters
    lets the regular expression engine jump between the positions where one of
    them occurs instead of trying the whole pattern at every position.
    """
    by_letter: dict[str, list[str]] = {}
    for word in _alternatives(alternatives):
        variants = [word]
        if cased and word[0].islower():
            variants.append(word[0].upper() + word[1:])
        for variant in variants:
            by_letter.setdefault(variant[0], []).append(variant[1:])
    # one branch per first letter, so the engine tries few branches at each candidate
    return (
        "(?:"
        + "|".join(
            f"{letter}(?<!{before}.)(?:{'|'.join(rests)})" for letter, rests in by_letter.items()
        )
        + ")"
    )


_Replace = Callable[[re.Match[str], dict[str, str]], str] | None
_Rule = tuple[str, re.Pattern[str], _Replace, str]


@functools.cache
def _rules() -> list[_Rule]:
    """(category, pattern, replacement, gate) in the order they are applied.

    A replacement of ``None`` replaces the whole match by the placeholder; a
    function gets the match and the placeholders and returns the new text. A
    rule runs only if its gate (:func:`_gates`: a cheap test that the text can
    hold such an identifier at all) is true.

    Every pattern runs in time linear in the length of the text: a repeated
    part either starts after a look-behind that stops it from starting again
    inside the same run (``(?<![\\w.+-])``), or is possessive (``++``, ``*+``),
    or is bounded; no repeated group contains an optional separator followed by
    a repeat of the same characters.
    """
    quoted = (
        r"(?:„[^“”\"\n]{1,60}[“”\"]|\"[^\"\n]{1,60}\"|“[^”\n]{1,60}”|«[^»\n]{1,60}»"
        r"|'[^'\n]{1,60}')"
    )
    number = rf"(?:№\s*\d+[{_LOW}a-zА-Я]?|\d+[{_LOW}a-zА-Я]?)\b"
    letter = rf"[{_UP}A-Z](?![\w])"
    more = rf"(?:,?\s+(?:{_ANY_CAP}|{number}|{letter}))*+"
    # e-mail: local part, "@" or an obfuscated "at", domain ("." or "dot")
    local = r"(?<![\w.+-])[\w+-]++(?:\.[\w+-]++)*+"
    at_plain = r"\s?@\s?"
    at_word = r"(?i:\s*+[(\[{<]\s*+(?:at|а|a|@|маймунка|кльомба)\s*+[)\]}>]\s*+|\s++(?:at|маймунка|кльомба)\s++)"
    dot_word = (
        r"(?i:\s*+\.\s*+|\s*+[(\[{<]\s*+(?:dot|точка|т)\s*+[)\]}>]\s*+|\s++(?:dot|точка)\s++)"
    )
    domain_word = rf"[\w-]++(?:{dot_word}[\w-]++)*?{dot_word}(?i:{_TLDS})(?!\w)"
    place_word = rf"(?:{_CAP}|{_UPPER_WORD})"
    not_word_or_dot = r"[\w.]"
    location = rf"(?:\s*,?\s*(?:гр\.?|град|с\.|село)\s*{_CAP}(?:[\s-]+{_CAP})*+)?"
    return [
        (
            "email",
            re.compile(
                rf"{local}(?:(?:{at_word}|{at_plain}){domain_word}|@[\w-]++(?:\.[\w-]++)*+)"
            ),
            None,
            "at",
        ),
        (
            "profile",
            re.compile(rf"(?:{_LINK_STARTS})\S*+"),
            _link,
            "link",
        ),
        (
            "profile",
            re.compile(
                r"(?<![\w.@-])(?:[^\W\d_]++(?:\.[^\W\d_]++)*+\.?[\d_]|\d++[^\W\d_]|_)[\w.]*+"
            ),
            _handle,
            "handle",
        ),
        (
            "id_number",
            re.compile(
                r"(?i:\b(?:ЕГН|ЛНЧ|EGN|personal\s+(?:id\s+)?number)\b)(\s*[:№-]?\s*)\d[\d ]{4,12}\d"
            ),
            lambda m, k: _keep_prefix(m, k["id_number"]),
            "egn",
        ),
        ("id_number", re.compile(r"\d(?<![\d+].)\d{9}(?!\d)"), _ten_digits, "digit"),
        (
            "date",
            re.compile(
                r"\d(?<![\d.].)(?:(?:\d?[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{3}[./-]\d{1,2}[./-]\d{1,2})"
                r"(?!\.?\d)"
                rf"|\d?(?:-?(?:ти|ви|ри|ми))?\s+(?:{_cased(_MONTHS_BG)})\b(?:\s+\d{{4}})?"
                rf"|\d?(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS_EN})\b\.?(?:,?\s+\d{{4}})?)"
            ),
            None,
            "digit",
        ),
        (
            "date",
            re.compile(
                rf"{_kw(_MONTHS_EN, cased=False)}\b\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?!\d)"
            ),
            None,
            "digit",
        ),
        (
            "phone",
            re.compile(
                # the first character, then what it was (a pattern that starts with a
                # character class lets the engine skip quickly to the candidates)
                r"[\d+(](?<![\w+].)(?:(?:(?<=\+)|(?<=0)0)\s?359[\s./-]{0,3}(?:\(0\)\s{0,3})?\d"
                r"|(?<=\()0\d|(?<=0)\d)(?:[\s./()-]{0,3}\d){6,9}(?!\d)"
                r"|(?<=8)[789]\d(?:[\s./-]?\d){6}(?!\d)"
            ),
            None,
            "digit",
        ),
        ("phone", re.compile(r"\d(?<!\d.)\d{6,}+(?!\d)"), None, "digit"),
        (
            "phone",
            re.compile(r"\d(?<![\w+.,/-].)\d{1,3}(?:[ ./-]\d{2,4}){1,5}(?!\w|[.,/-]\d)"),
            _digit_groups,
            "digit",
        ),
        (
            "address",
            re.compile(rf"{_kw(_ADDRESS_DOT)}\s*+(?:{quoted}|{number}|\w++(?:[.-]\w++)*+){more}"),
            None,
            "address",
        ),
        (
            "address",
            re.compile(
                rf"{_kw(_ADDRESS_SHORT, cased=False, before=not_word_or_dot)}\s++"
                rf"(?:{quoted}|{number}|{_ANY_CAP}|{letter}){more}"
            ),
            None,
            "address",
        ),
        (
            "address",
            re.compile(rf"{_kw(_ADDRESS_WORDS)}\s+(?:{quoted}|{number}|{_ANY_CAP}|{letter}){more}"),
            None,
            "address",
        ),
        (
            "address",
            re.compile(
                rf"(?<!\w)(?:\d+[a-z]?\s+)?{_LCAP}(?:\s+{_LCAP})?\s+"
                r"(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Boulevard|Blvd\.?|Lane|Square)"
            ),
            None,
            "street",
        ),
        (
            "address",
            re.compile(
                rf"({_kw('на|в|във')}\s+){_CAP}(?:\s+{_CAP})?\s+(?:№\s*)?\d{{1,3}}[а-дa-d]?\b"
                rf"(?!\s*(?:{_NOT_HOUSE})\b)"
            ),
            lambda m, k: _keep_prefix(m, k["address"]),
            "digit",
        ),
        (
            "place",
            re.compile(rf"{_kw(_TOWN_WORDS, cased=False)}\s*{_ANY_CAP}(?:[\s-]+{_ANY_CAP})*+"),
            None,
            "town",
        ),
        (
            "place",
            re.compile(
                rf"{_kw(_SCHOOLS, cased=False)}\s*(?:№\s*)?\d{{1,3}}\b(?:\s*{quoted})?{location}"
            ),
            None,
            "digit",
        ),
        (
            "place",
            re.compile(rf"\d(?<!\w.)\d{{0,2}}\s*(?:-?(?:то|во|ро|мо))?\s+(?:{_SCHOOLS}|училище)\b"),
            None,
            "school_number",
        ),
        (
            "place",
            re.compile(
                rf"(?<!\w)({_CAP}|(?i:{_SCHOOL_ADJECTIVES})(?:та|то)?)\s+(?i:гимназия|училище)(?!\w)"
                rf"(?:\s+(?:„|\")?{_CAP}(?:\s+{_CAP})*+[“”\"]?)?{location}"
            ),
            _school_kind,
            "school",
        ),
        (
            "place",
            re.compile(
                rf"({_kw(_SERVICES + '|' + _SCHOOLS + '|' + _INSTITUTION_WORDS)})(?!\w)"
                rf"(?:\s*+(?:№\s*\d{{1,3}}\s*)?(?:{quoted}|(?:Св\.\s*)?{place_word}(?:\s+{place_word})*+)"
                rf"{location}|\s*,?\s*(?:гр\.?|град|с\.|село)\s*{_CAP}(?:[\s-]+{_CAP})*+)"
            ),
            lambda m, k: f"{m.group(1)} {k['place']}",
            "institution",
        ),
        (
            "name",
            re.compile(
                rf"{_kw(_INTRO)}(?!\w)"
                rf"(\s*[:,-]?\s*){_WORD}(?:\s+(?:{_ANY_CAP}|{_SURNAME_LOWER}|{_LATIN_LOWER_SURNAME}))*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
            "intro",
        ),
        (
            "name",
            re.compile(
                rf"{_kw(_I_AM)}(\s+)"
                rf"{_ANY_CAP}(?:\s+{_ANY_CAP})*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
            "i_am",
        ),
        (
            "name",
            re.compile(
                rf"{_kw(_KIN)}(?:\s+(?:ми|си|му|ѝ|й|ни|ви|им))?(?!\w)"
                rf"(\s*,?\s*){_ANY_CAP}(?:\s+{_ANY_CAP})*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
            "kin",
        ),
    ]


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class _Names:
    """The name lists of ``data/reference`` as sets of the forms matched."""

    first: frozenset[str]  #: capitalised first names, diminutives and vocatives
    ambiguous: frozenset[str]  #: first names that are also ordinary words (``Вяра``)
    surnames: frozenset[str]  #: surnames in masculine, feminine and plural forms
    lower: frozenset[str]  #: lower-case forms that are never an ordinary word


@functools.cache
def _names() -> _Names:
    """Read ``bg_first_names.csv`` and ``bg_surnames.csv`` (see ``data/reference/README.md``)."""
    first = set(COMMON_FIRST_NAMES)
    ambiguous: set[str] = set()
    lower: set[str] = set()
    path = REFERENCE_DIR / "bg_first_names.csv"
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        with open(REFERENCE_DIR / "bg_surnames.csv", encoding="utf-8", newline="") as handle:
            surnames = {row["form"] for row in csv.DictReader(handle)}
    except (OSError, KeyError) as error:
        raise InputError(f"cannot read the name lists in {REFERENCE_DIR}: {error}") from error
    for row in rows:
        forms = [row["name"], *row["vocatives"].split()]
        if row["ambiguous"] == "1":
            ambiguous.update(forms)
            continue
        first.update(forms)
        if row["word"] == "0":
            lower.update(form.lower() for form in forms if len(form) >= 4)
    first -= ambiguous  # the CSV's decision wins over COMMON_FIRST_NAMES
    lower.update(form.lower() for form in surnames if len(form) >= 5)
    return _Names(frozenset(first), frozenset(ambiguous), frozenset(surnames), frozenset(lower))


_CAP_TOKEN = re.compile(r"[А-ЯЁЍA-Z][^\W\d_]*+(?:-[^\W\d_]++)*+")
_LOWER_TOKEN = re.compile(r"[а-яѝё]{4,}+")
_BOUNDARY_CHARS = frozenset('.!?…:;„“”"«»([—–-\n')
_PREVIOUS_WORD = re.compile(r"([^\W\d_]+)\s+$")
_SURNAME_ENDS = ("ов", "ев", "ова", "ева", "ови", "еви", "ски", "ска", "цки", "цка")
_LATIN_SURNAME_ENDS = ("ov", "ev", "ova", "eva", "ski", "ska", "ich", "iev", "ieva")
#: Definite-article endings no first name or surname has (``Лятото``, ``Лагерът``).
_ARTICLE_ENDS = ("ът", "ят", "ото", "ето", "ите", "ове", "овете")
_PLACE_PREPOSITIONS = frozenset(_words("в във из край около Във В Из"))
_Token = tuple[int, int, str, str, str, bool, bool]  # start, end, word, kind, listed, like, stop


def _name_tokens(text: str, marks: dict[str, str]) -> str:
    """Replace the names found word by word, looking at each word's neighbours.

    * A capitalised Cyrillic word inside a sentence is a proper noun in
      Bulgarian: it is removed unless it is an ordinary word children capitalise
      (:data:`_NOT_FIRST_NAMES`: ``Мама``, ``Бог``, ``Коледа``, ``България``,
      months, apps). After ``в`` / ``във`` it becomes a place.
    * At the start of a sentence (where every word is capitalised) a word is
      removed if it is a listed first name, diminutive or vocative (not an
      ambiguous one) or a listed surname, or if it is followed by a surname
      (``Зюмбюла Петрова``).
    * A word in capitals (``ГЕОРГИ ИВАНОВ``) is removed if it is a listed name or
      surname, or a surname-like word next to one.
    * A lower-case word is removed if it is a listed name that is never an
      ordinary word (``стефанка``, ``петрова``).
    * Latin letters: listed first names, and surname-like words (``-ov``,
      ``-ski`` ...) inside a sentence or after a capitalised word.

    Only capitalised words are looked at one by one; lower-case names are found
    by intersecting the set of lower-case words with the list, so the pass
    stays linear and fast on long answers.
    """
    names = _names()
    tokens: list[_Token] = []
    for match in _CAP_TOKEN.finditer(text):
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "[_"):
            continue
        word = match.group()
        tokens.append((start, match.end(), word, *_token_info(word)))
    replaced: list[tuple[int, int, str]] = []
    name, place = marks["name"], marks["place"]
    for i, (start, end, word, kind, listed, _, stop) in enumerate(tokens):
        if stop or kind == "other":
            continue
        if kind == "cap" and len(word) > 1:
            # the common case, inlined: a capitalised word inside a sentence
            prefix = text[max(0, start - 40) : start].rstrip()
            if prefix and prefix[-1] not in _BOUNDARY_CHARS:
                if not listed and word.endswith(_ARTICLE_ENDS) and len(word) > 4:
                    continue  # "Лятото", "Възпитателите": a common noun with its article
                previous = prefix.rsplit(None, 1)[-1]
                replaced.append((start, end, place if previous in _PLACE_PREPOSITIONS else name))
                continue
        category = _decide(i, tokens, text)
        if category is not None:
            replaced.append((start, end, marks[category]))
    found = set(_LOWER_TOKEN.findall(text)) & names.lower
    if found:
        pattern = re.compile(
            r"(?<![\w\[-])(?:" + "|".join(map(re.escape, sorted(found))) + r")(?![\w-])"
        )
        replaced += [(m.start(), m.end(), marks["name"]) for m in pattern.finditer(text)]
    if not replaced:
        return text
    replaced.sort()
    out: list[str] = []
    last = 0
    for start, end, mark in replaced:
        if start < last:
            continue
        out += [text[last:start], mark]
        last = end
    out.append(text[last:])
    return "".join(out)


def _at_start(text: str, start: int) -> bool:
    """Whether the word at ``start`` begins a sentence (or a quotation, or the text)."""
    prefix = text[max(0, start - 40) : start].rstrip()
    return not prefix or prefix[-1] in _BOUNDARY_CHARS


@functools.lru_cache(maxsize=65536)
def _token_info(word: str) -> tuple[str, str, bool, bool]:
    """(kind, listed as, surname-like, never a name) of one capitalised word."""
    names = _names()
    if word.isupper():
        if len(word) < 2:
            return ("other", "", False, True)
        kind = "upper"
        norm = "-".join(part.capitalize() for part in word.split("-"))
    elif word[1:].replace("-", "").islower() or len(word) == 1:
        kind, norm = "cap", word
    else:
        return ("other", "", False, True)
    stop = norm in _NOT_FIRST_NAMES or word in _NOT_FIRST_NAMES
    if "\u0400" <= word[0] <= "\u04ff":
        listed = (
            "first"
            if norm in names.first
            else "surname"
            if norm in names.surnames
            else "ambiguous"
            if norm in names.ambiguous
            else ""
        )
        ends = _SURNAME_ENDS
    else:
        listed = "first" if norm in COMMON_FIRST_NAMES_LATIN else ""
        ends = _LATIN_SURNAME_ENDS
        kind += "-latin"
    like = norm.endswith(ends) and len(norm) >= 5 and norm not in _NOT_SURNAMES
    return (kind, listed, like, stop)


def _neighbour(i: int, j: int, tokens: list[_Token], text: str) -> tuple[str, str, bool] | None:
    """(listed, kind, surname-like) of word ``j`` if it is a name-like word right next to ``i``."""
    if not 0 <= j < len(tokens):
        return None
    a, b = (i, j) if i < j else (j, i)
    if text[tokens[a][1] : tokens[b][0]].strip(" \t,"):
        return None
    _, _, _, kind, listed, like, stop = tokens[j]
    if stop or kind == "other":
        return None
    return listed, kind, like


def _decide(i: int, tokens: list[_Token], text: str) -> str | None:
    """The placeholder category for capitalised word ``i``, or None to keep it."""
    start, _, word, kind, listed, like, _ = tokens[i]
    if kind == "cap":
        if len(word) == 1:
            return None
        if not _at_start(text, start):
            previous = _PREVIOUS_WORD.search(text, max(0, start - 12), start)
            if previous is not None and previous.group(1) in _PLACE_PREPOSITIONS:
                return "place"
            return "name"
        if listed in {"first", "surname"}:
            return "name"
        after = _neighbour(i, i + 1, tokens, text)
        if after is not None and (after[0] == "surname" or after[2]):
            return "name"  # a first name not in the list, before a surname
        if listed == "ambiguous" and after is not None and after[0] == "first":
            return "name"
        return None
    if kind == "upper":
        if listed in {"first", "surname"}:
            return "name"
        if listed == "ambiguous" or like:
            for j in (i - 1, i + 1):
                other = _neighbour(i, j, tokens, text)
                if other is not None and other[0] in {"first", "surname"}:
                    return "name"
        return None
    # Latin letters
    if listed == "first":
        return "name"
    at_start = _at_start(text, start)
    after = _neighbour(i, i + 1, tokens, text)
    if like and not at_start:
        return "name"
    if after is not None and (after[0] in {"first", "surname"} or after[2]) and (like or listed):
        return "name"
    if kind == "cap-latin" and after is not None and after[2]:
        return "name"
    before = _neighbour(i, i - 1, tokens, text)
    if like and before is not None and before[1].startswith("cap"):
        return "name"
    return None


# --------------------------------------------------------------------------- callbacks


def _word_start(replace: Callable[[re.Match[str], dict[str, str]], str]) -> _Replace:
    """``replace``, applied only where the match does not start inside a word."""

    def checked(match: re.Match[str], marks: dict[str, str]) -> str:
        start = match.start()
        if start and (match.string[start - 1].isalnum() or match.string[start - 1] in "_@"):
            return match.group(0)
        return replace(match, marks)

    return checked


@_word_start
def _link(match: re.Match[str], marks: dict[str, str]) -> str:
    """A link or ``@handle``; punctuation that ends the sentence is kept."""
    text = match.group(0)
    core = text.rstrip(".,;:!?)]»“”\"'")
    return marks["profile"] + text[len(core) :]


#: Numbers with letters that are not a user name: ``10ти``, ``2011г``, ``5км``.
_NOT_HANDLE = re.compile(
    r"\d+-?(?:ти|ви|ри|ми|та|то|те|ия|ият|г|гр|год|лв|кг|км|см|мм|мин|ч|ст|st|nd|rd|th|kg|km|cm|g|h|s|d|k|m|x)\.?"
    r"|[^\W\d_]{1,2}\d{1,2}|[^\W\d_]+\.?",
    re.IGNORECASE,
)


def _handle(match: re.Match[str], marks: dict[str, str]) -> str:
    """A user name such as ``ivan_2011`` or ``maria.p99`` (letters with ``_`` or digits)."""
    text = match.group(0)
    core = text.rstrip(".")
    letters = sum(c.isalpha() for c in core)
    digits = sum(c.isdigit() for c in core)
    if _NOT_HANDLE.fullmatch(core) or letters == 0:
        return text
    if "_" in core or (letters >= 2 and digits >= 2) or (letters >= 3 and digits >= 1):
        return marks["profile"] + text[len(core) :]
    return text


def _digit_groups(match: re.Match[str], marks: dict[str, str]) -> str:
    """Digits in groups (``987 65 43``, ``88 812 34 56``): a phone from 6 digits in pairs or 7 on."""
    text = match.group(0)
    groups = re.split(r"[ ./-]", text)
    digits = sum(len(g) for g in groups)
    if 7 <= digits <= 13:
        return marks["phone"]
    if digits == 6 and all(len(g) == 2 for g in groups):
        return marks["phone"]
    return text


def _school_kind(match: re.Match[str], marks: dict[str, str]) -> str:
    """``Математическата гимназия``: the kind of school names it in a small town."""
    if match.group(1) in _NOT_FIRST_NAMES or match.group(1).lower() in {
        "моето",
        "новото",
        "старото",
    }:
        return match.group(0)
    return marks["place"]


def redact(text: str, language: str = "bg") -> str:
    """Replace identifiers in a child's answer by placeholders; keep every other word.

    Parameters
    ----------
    text : str
        One free-text answer (Bulgarian or English; both are handled whatever
        ``language`` says).
    language : {"bg", "en"}, default "bg"
        Language of the placeholders (:data:`PLACEHOLDERS`).

    Returns
    -------
    str
        The answer with e-mails, links, ЕГН, phones, dates, addresses, places and
        names replaced; neighbouring placeholders of one kind are merged.

    Notes
    -----
    Automatic redaction over-redacts on purpose and is still incomplete (see the
    module Notes): a person must review every quote before publication.

    Examples
    --------
    >>> redact("Искам да виждам майка си по-често, телефонът ѝ е 0888 123 456.")
    'Искам да виждам майка си по-често, телефонът ѝ е [телефон].'
    >>> redact("Живея на ул. „Шипка“ № 12, бл. 5, вх. А с баба ми Мария.")
    'Живея на [адрес] с баба ми [име].'
    >>> redact("Да можем сами да си избираме храната.")
    'Да можем сами да си избираме храната.'
    """
    if not isinstance(text, str):
        raise TypeError(f"redact() needs a str, got {type(text).__name__}")
    marks = _placeholders(language)
    out = text
    gates = _gates(text)
    for category, pattern, replace, gate in _rules():
        if not gates[gate]:
            continue
        if replace is None:
            out = pattern.sub(marks[category], out)
        else:
            out = pattern.sub(lambda m, f=replace: f(m, marks), out)
    out = _name_tokens(out, marks)
    return _merge(out, marks)


def select_quotes(
    data: pd.DataFrame,
    text: str = "voice",
    by: str = "placement_type",
    min_cell: int = 5,
    per_group: int = 3,
    seed: int = DEFAULT_SEED,
    language: str = "bg",
    theme: str | None = None,
    min_words: int = 3,
    known_ids: Iterable[object] | None = None,
) -> pd.DataFrame:
    """A reproducible sample of redacted quotes per group, only from large enough groups.

    Parameters
    ----------
    data : DataFrame
        One row per child: the ``text`` column and the grouping column (and
        usually ``respondent_id``, which is never returned).
    text : str, default "voice"
        Column of free-text answers.
    by : str, default "placement_type"
        Column to group by.
    min_cell : int, default 5
        Fewest children **who answered** (non-empty text) a group must have.
    per_group : int, default 3
        Most quotes per group.
    seed : int, default 20251124
        Seed of the sample.
    language : {"bg", "en"}, default "bg"
        Language of the placeholders.
    theme : str, optional
        A column to group by instead of ``by`` (e.g. a coded theme of the answer).
    min_words : int, default 3
        Answers with fewer words are not quoted (they still count as answers).
    known_ids : iterable, optional
        Further respondent or service ids to mask in the answers: pass every id
        of the file (all waves and oblasts, e.g. :attr:`research_lib.studies.qol.pipeline.QolData.known_ids`),
        not only those of ``data``.

    Returns
    -------
    DataFrame
        Columns ``group``, ``quote`` (redacted), ``n_group`` (all children of the
        group in ``data``, answered or not); groups in sort (or category) order.
        No id or other column of ``data`` is ever returned.

    Notes
    -----
    * A group is quoted only if at least ``min_cell`` of its children answered,
      so a quote cannot be narrowed down to fewer than ``min_cell`` children;
      ``n_group`` is then at least ``min_cell`` as well. Children are counted by
      distinct ``respondent_id`` when that column exists. Rows with a missing
      group are left out.
    * Before redaction, any ``respondent_id`` or ``service_id`` value of ``data``
      or ``known_ids`` found in an answer is replaced by the ``code`` placeholder,
      whatever its case or separators (``r2025 00003`` for ``R2025-00003``); so is
      any code of the same shape (same letters, same number of digits), so ids
      of other waves or oblasts are masked even when they are not passed.
    * Quotes are de-duplicated after redaction (ignoring case and spacing), sorted,
      then sampled with a generator seeded by ``seed`` and the group's label:
      the same data give the same quotes whatever the row order, and adding a
      group does not change the quotes of the others.
    * Redaction is automatic; a person must review the quotes before publication.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({
    ...     "respondent_id": [f"r{i}" for i in range(8)],
    ...     "placement_type": ["cnst"] * 5 + ["foster"] * 3,
    ...     "voice": ["Казвам се Иван Петров и искам у дома.", "Да има ключ за шкафчето.",
    ...               "Да има ключ за шкафчето.", "Да не ни заключват вечер.", "",
    ...               "Да остана при семейството.", "", ""]})
    >>> select_quotes(data, min_cell=4)
      group                            quote  n_group
    0  cnst        Да не ни заключват вечер.        5
    1  cnst  Казвам се [име] и искам у дома.        5
    2  cnst         Да има ключ за шкафчето.        5

    ``foster`` is left out: only one of its three children answered.
    """
    key = theme if theme is not None else by
    missing = [column for column in (text, key) if column not in data.columns]
    if missing:
        raise InputError(f"select_quotes(): data has no column(s) {missing}")
    for name, value in (("min_cell", min_cell), ("per_group", per_group), ("min_words", min_words)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"select_quotes(): {name} must be a whole number >= 1, got {value!r}")
    marks = _placeholders(language)
    answers = data[text].astype("string").str.strip().fillna("")
    answered = answers != ""
    ids = _known_ids(data, known_ids)
    rows: list[dict[str, object]] = []
    for group, members in data.groupby(key, sort=True, observed=True, dropna=True).groups.items():
        n_group = _children(data, members)
        done = members[answered.loc[members].to_numpy()]
        if _children(data, done) < min_cell:
            continue
        quotes = _quotes(answers.loc[done], ids, marks, language, min_words)
        rng = np.random.default_rng([seed, zlib.crc32(str(group).encode("utf-8"))])
        picked = rng.choice(len(quotes), size=min(per_group, len(quotes)), replace=False)
        rows += [{"group": group, "quote": quotes[i], "n_group": n_group} for i in picked]
    return pd.DataFrame(rows, columns=["group", "quote", "n_group"])


# --------------------------------------------------------------------------- helpers


def _placeholders(language: str) -> dict[str, str]:
    if language not in PLACEHOLDERS:
        raise InputError(f"language must be one of {sorted(PLACEHOLDERS)}, got {language!r}")
    return PLACEHOLDERS[language]


def _keep_prefix(match: re.Match[str], mark: str) -> str:
    """Keep the trigger words (before group 1) and group 1; replace the rest by ``mark``."""
    return match.group(0)[: match.start(1) - match.start(0)] + match.group(1) + mark


def _ten_digits(match: re.Match[str], marks: dict[str, str]) -> str:
    """Ten digits: a mobile number (08x / 09x, never a valid ЕГН date) or an ЕГН."""
    digits = match.group(0)
    month, day = int(digits[2:4]), int(digits[4:6])
    valid_date = (1 <= month <= 12 or 21 <= month <= 32 or 41 <= month <= 52) and 1 <= day <= 31
    if digits[:2] in {"08", "09"} and not valid_date:
        return marks["phone"]
    return marks["id_number"]


def _merge(text: str, marks: dict[str, str]) -> str:
    """Merge runs of the same placeholder separated by spaces or commas."""
    for mark in set(marks.values()):
        text = re.sub(rf"{re.escape(mark)}(?:[\s,;]+{re.escape(mark)})+", mark, text)
    return text


def _known_ids(data: pd.DataFrame, extra: Iterable[object] | None = None) -> re.Pattern[str] | None:
    """A pattern of every id of ``data`` (and ``extra``) and of every code shaped like one.

    An id's shape keeps its letters and the lengths of its digit runs
    (``R2025-00003`` -> ``R\\d{4}[\\s_./-]?\\d{5}``); separators may be any of
    ``space _ . / -`` or none, letters any case. Ids with fewer than three digits
    (or only digits, fewer than six) are matched exactly, not by shape.
    """
    values: set[str] = set()
    for column in ("respondent_id", "service_id"):
        if column in data.columns:
            values |= {str(v).strip() for v in data[column].dropna().unique()}
        if column in (data.index.names or []):
            level = data.index.get_level_values(column)
            values |= {str(v).strip() for v in level.dropna().unique()}
    if extra is not None:
        values |= {str(v).strip() for v in extra if v is not None and not pd.isna(v)}
    values = {v for v in values if len(v) >= 3}
    if not values:
        return None
    shapes: dict[str, int] = {}
    for value in values:
        shape = _id_shape(value)
        shapes[shape] = shapes.get(shape, 0) + 1
    # the most common shapes; ids of rarer shapes are matched exactly (a bounded pattern)
    ordered = sorted(shapes, key=lambda shape: (-shapes[shape], shape))
    parts = ordered[:50]
    rare = set(ordered[50:])
    parts += [_id_shape(v, exact=True) for v in values if _id_shape(v) in rare]
    return re.compile(
        r"(?<![^\W_])(?:" + "|".join(sorted(set(parts), key=len)[::-1]) + r")(?![^\W_])",
        re.IGNORECASE,
    )


def _id_shape(value: str, exact: bool = False) -> str:
    """The regular expression of an id's shape (or of the id itself, separators free)."""
    runs = re.findall(r"\d+|[^\W\d_]+|[\W_]+", value)
    digits = sum(len(run) for run in runs if run.isdigit())
    letters = any(run[0].isalpha() for run in runs)
    exact = exact or digits < 3 or (not letters and digits < 6)
    out = []
    for run in runs:
        if run[0].isdigit():
            out.append(re.escape(run) if exact else rf"\d{{{len(run)}}}")
        elif run[0].isalpha():
            out.append(re.escape(run))
        else:
            out.append(r"[\s_./-]?")
    return "".join(out)


def _children(data: pd.DataFrame, index: pd.Index) -> int:
    if "respondent_id" in data.columns:
        ids = data.loc[index, "respondent_id"]
        return int(ids.nunique()) + int(ids.isna().sum())
    return len(index)


def _quotes(
    answers: pd.Series,
    ids: re.Pattern[str] | None,
    marks: dict[str, str],
    language: str,
    min_words: int,
) -> list[str]:
    """Redacted, de-duplicated, sorted quotes of at least ``min_words`` words."""
    unique: dict[str, str] = {}
    for answer in answers:
        if len(re.findall(r"\w+", answer)) < min_words:
            continue
        cleaned = ids.sub(marks["code"], answer) if ids is not None else answer
        quote = re.sub(r"\s+", " ", redact(cleaned, language)).strip()
        unique.setdefault(quote.casefold(), quote)
    return sorted(unique.values())
