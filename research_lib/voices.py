"""Children's own words: redaction of identifiers and disclosure-safe selection of quotes.

A child's free-text answer (column ``voice``, mostly Bulgarian, sometimes
English) is evidence: it is kept as written, never paraphrased or invented. It
is shown only

* after :func:`redact` has replaced every identifier it recognises by a
  placeholder (:data:`PLACEHOLDERS`), and
* from a group with at least ``min_cell`` children who answered the question
  (:func:`select_quotes`), so a quote cannot be traced to one of very few children.

:func:`redact` recognises, in this order: e-mail addresses; web links and
``@handles``; ЕГН / personal numbers; phone numbers (Bulgarian mobile and
landline formats, with ``+359`` / ``00359``); dates (``12.03.2011``,
``12/03/2011``, ``2011-03-12``, ``12 март 2011``, ``March 12, 2011``); any other
run of 7+ digits; street addresses (``ул.``, ``бул.``, ``ж.к.``, ``кв.``, ``бл.``,
``вх.``, ``ап.``, ``ет.``, ``улица`` ... and ``str.``, ``ulitsa``, ``Street``);
towns, villages and named schools or services (``гр. Видин``, ЦНСТ „Слънце“,
``125 СУ``); personal names: self-introductions (``казвам се ...``, ``аз съм ...``,
``my name is ...``), capitalised words after kinship or role words (``брат ми``,
``баба``, ``възпитателката``, ``г-жа``, ``my sister`` ...), first name + surname
pairs (surnames in -ов/-ев/-ова/-ева/-ски/-ска/-ин/-ина ...), surname-like
capitalised words inside a sentence, and a list of common first names and
diminutives (:data:`COMMON_FIRST_NAMES`, matched as capitalised whole words).

Notes
-----
Redaction is automatic and errs on the side of removing too much. It cannot be
complete: a person must read every quote before it is published. Known limits:

* names written in lower case (``иван``) or in an unusual spelling, names not in
  the list used alone, vocative and other inflected forms (``Иване``) are missed,
  except after a self-introduction or a kinship / role word;
* place names used alone (``във Видин``), addresses without a keyword
  (``Шипка 12``), nicknames, school classes, rare events, a distinctive story or
  style can still identify a child - only a human reader can judge that;
* obfuscated contacts (``maria at example dot com``, digits written as words)
  are not recognised;
* over-redaction: a capitalised common word that equals a listed name or looks
  like a surname (e.g. a town ending in -ов) is replaced too.

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
from collections.abc import Callable
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
    Дисни Нетфликс Покемон Понеделник Вторник Сряда Четвъртък Петък Събота Неделя Януари
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

_Replace = Callable[[re.Match[str], dict[str, str]], str] | None
_Rule = tuple[str, re.Pattern[str], _Replace]


@functools.cache
def _rules() -> list[_Rule]:
    """(category, pattern, replacement) in the order they are applied.

    A replacement of ``None`` replaces the whole match by the placeholder; a
    function gets the match and the placeholders and returns the new text.

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
    location = rf"(?:\s*,?\s*(?:гр\.?|град|с\.|село)\s*{_CAP}(?:[\s-]+{_CAP})*+)?"
    return [
        (
            "email",
            re.compile(
                rf"{local}(?:(?:{at_word}|{at_plain}){domain_word}|@[\w-]++(?:\.[\w-]++)*+)"
            ),
            None,
        ),
        (
            "profile",
            re.compile(
                r"(?i:https?://|www\.)\S++"
                r"|(?<![\w@])(?i:facebook|fb|instagram|tiktok|youtube|snapchat|twitter)\.com/\S++"
                r"|(?<![\w@])@\w[\w.]*+"
            ),
            _link,
        ),
        (
            "profile",
            re.compile(r"(?<![\w.@-])(?:[^\W\d_]++[\d_]|\d++[^\W\d_]|_)[\w.]*+"),
            _handle,
        ),
        (
            "id_number",
            re.compile(
                r"(?i:\b(?:ЕГН|ЛНЧ|EGN|personal\s+(?:id\s+)?number)\b)(\s*[:№-]?\s*)\d[\d ]{4,12}\d"
            ),
            lambda m, k: _keep_prefix(m, k["id_number"]),
        ),
        ("id_number", re.compile(r"(?<![\d+])\d{10}(?!\d)"), _ten_digits),
        (
            "date",
            re.compile(
                r"(?<![\d.])(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})"
                r"(?!\.?\d)"
                rf"|(?<!\d)\d{{1,2}}(?:-?(?:ти|ви|ри|ми))?\s+(?i:{_MONTHS_BG})\b(?:\s+\d{{4}})?"
                rf"|(?<!\d)\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS_EN})\b\.?(?:,?\s+\d{{4}})?"
                rf"|\b(?:{_MONTHS_EN})\b\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?!\d)"
            ),
            None,
        ),
        (
            "phone",
            re.compile(
                r"(?<![\w+])(?:(?:\+|00)\s?359[\s./-]{0,3}(?:\(0\)\s{0,3})?\d|\(?0\d)"
                r"(?:[\s./()-]{0,3}\d){6,9}(?!\d)"
                r"|(?<![\w+])8[789]\d(?:[\s./-]?\d){6}(?!\d)"
                r"|(?<!\d)\d{7,}+(?!\d)"
            ),
            None,
        ),
        (
            "phone",
            re.compile(r"(?<![\w+.,/-])\d{2,4}(?:[ ./-]\d{2,4}){1,5}(?!\w|[.,/-]\d)"),
            _digit_groups,
        ),
        (
            "address",
            re.compile(
                r"(?<!\w)(?:ул\.|бул\.|ж\.\s?к\.?|жк\.|кв\.|бл\.|вх\.|ап\.|ет\.|(?i:str\.|ul\.|bul\.|bl\.|vh\.|apt?\.|blvd\.?))"
                rf"\s*+(?:{quoted}|{number}|\w++(?:[.-]\w++)*+){more}"
                rf"|(?<![\w.])(?:ул|бул|жк|ж\s?к|кв|бл|вх|ап|ет)\s++(?:{quoted}|{number}|{_ANY_CAP}|{letter}){more}"
                r"|(?<!\w)(?i:улицата|улица|булеварда|булевард|квартала|квартал|блока|блок|вход|апартамент|етаж"
                r"|ulitsa|street|boulevard|block|entrance|apartment|flat|floor)"
                rf"\s+(?:{quoted}|{number}|{_ANY_CAP}|{letter}){more}"
                rf"|(?<!\w)(?:\d+[a-z]?\s+)?{_LCAP}(?:\s+{_LCAP})?\s+(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Boulevard|Blvd\.?|Lane|Square)"
            ),
            None,
        ),
        (
            "address",
            re.compile(
                rf"(?<!\w)((?i:на|в|във)\s+){_CAP}(?:\s+{_CAP})?\s+(?:№\s*)?\d{{1,3}}[а-дa-d]?\b"
                rf"(?!\s*(?:{_NOT_HOUSE})\b)"
            ),
            lambda m, k: _keep_prefix(m, k["address"]),
        ),
        (
            "place",
            re.compile(
                rf"(?<!\w)(?:гр\.|с\.|(?:гр|град|село|община|област|общ\.|обл\.)\s|(?i:town\s+of|village\s+of))"
                rf"\s*{_ANY_CAP}(?:[\s-]+{_ANY_CAP})*+"
                rf"|(?<!\w)\d{{1,3}}\s*(?:-?(?:то|во|ро|мо))?\s+(?:{_SCHOOLS}|училище)\b"
                rf"|(?<!\w)(?:{_SCHOOLS})\s*(?:№\s*)?\d{{1,3}}\b(?:\s*{quoted})?{location}"
            ),
            None,
        ),
        (
            "place",
            re.compile(
                rf"(?<!\w)({_CAP}|(?i:{_SCHOOL_ADJECTIVES})(?:та|то)?)\s+(?i:гимназия|училище)(?!\w)"
                rf"(?:\s+(?:„|\")?{_CAP}(?:\s+{_CAP})*+[“”\"]?)?{location}"
            ),
            _school_kind,
        ),
        (
            "place",
            re.compile(
                rf"(?<!\w)((?:{_SERVICES}|{_SCHOOLS})(?!\w)|(?i:училище|гимназия|детска\s+градина|градина"
                rf"|център|дом|комплекс|приют)(?!\w))"
                rf"\s*+(?:№\s*\d{{1,3}}\s*)?(?:{quoted}|(?:Св\.\s*)?{place_word}(?:\s+{place_word})*+)"
                rf"{location}"
                rf"|(?<!\w)((?:{_SERVICES}|{_SCHOOLS})(?!\w))(?:\s*,?\s*(?:гр\.?|град|с\.|село)\s*{_CAP}(?:[\s-]+{_CAP})*+)"
            ),
            lambda m, k: f"{m.group(1) or m.group(2)} {k['place']}",
        ),
        (
            "name",
            re.compile(
                r"(?i:\b(?:казвам\s+се|аз\s+се\s+казвам|името\s+ми\s+е|името\s+ми|викат\s+ми|наричат\s+ме"
                r"|казват\s+ми|my\s+name\s+is|my\s+name's|i\s+am\s+called))(?!\w)"
                rf"(\s*[:,-]?\s*){_WORD}(?:\s+(?:{_ANY_CAP}|{_SURNAME_LOWER}|{_LATIN_LOWER_SURNAME}))*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
        ),
        (
            "name",
            re.compile(
                rf"(?i:\b(?:аз\s+съм|I'm|I\s+am|(?:they\s+|people\s+)?call\s+me))(\s+)"
                rf"{_ANY_CAP}(?:\s+{_ANY_CAP})*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
        ),
        (
            "name",
            re.compile(
                rf"(?i:\b(?:{_KIN_BG}|(?:{_KIN_EN})\.?)(?:\s+(?:ми|си|му|ѝ|й|ни|ви|им))?)(?!\w)"
                rf"(\s*,?\s*){_ANY_CAP}(?:\s+{_ANY_CAP})*"
            ),
            lambda m, k: _keep_prefix(m, k["name"]),
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
    ambiguous -= first
    lower.update(form.lower() for form in surnames if len(form) >= 5)
    return _Names(frozenset(first), frozenset(ambiguous), frozenset(surnames), frozenset(lower))


def first_names() -> frozenset[str]:
    """Every first name, diminutive and vocative form :func:`redact` removes on its own.

    :data:`COMMON_FIRST_NAMES` plus ``data/reference/bg_first_names.csv`` (about
    2,000 names with their vocatives), except names that are also ordinary words
    (``Вяра``, ``Роза``), which are removed only inside a sentence or next to a name.
    """
    return _names().first


_TOKEN = re.compile(r"(?<![\w\[])[^\W\d_]++(?:-[^\W\d_]++)*+")
_BOUNDARY = re.compile(r"[.!?…\n:;„“”\"«»(\[—–]|(?:^|\s)-\s")
_SURNAME_ENDS = ("ов", "ев", "ова", "ева", "ови", "еви", "ски", "ска", "цки", "цка")
_LATIN_SURNAME_ENDS = ("ov", "ev", "ova", "eva", "ski", "ska", "ich", "iev", "ieva")
_PLACE_PREPOSITIONS = frozenset(_words("в във из край около Във В Из"))


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
    """
    names = _names()
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    if not tokens:
        return text
    info = [_token_info(word, names) for _, _, word in tokens]
    out: list[str] = []
    last = 0
    previous_end = 0
    for i, (start, end, word) in enumerate(tokens):
        kind, norm, listed, surname_like, stop = info[i]
        gap = text[previous_end:start]
        previous_end = end
        if kind == "lower" or stop:
            if kind == "lower" and word in names.lower:
                category = "name"
            else:
                continue
        else:
            at_start = i == 0 or _BOUNDARY.search(gap) is not None
            category = _decide(i, tokens, info, text, at_start, names)
            if category is None:
                continue
        out.append(text[last:start])
        out.append(marks[category])
        last = end
    out.append(text[last:])
    return "".join(out)


def _token_info(word: str, names: _Names) -> tuple[str, str, str, bool, bool]:
    """(kind, normalised form, listed as, surname-like, never a name) of one word."""
    cyrillic = "\u0400" <= word[0] <= "\u04ff"
    if word.isupper():
        if len(word) < 2:
            return ("other", word, "", False, True)
        kind = "upper"
        norm = "-".join(part.capitalize() for part in word.split("-"))
    elif word[0].isupper():
        kind, norm = "cap", word
    elif word.islower():
        return ("lower", word, "", False, True)
    else:
        return ("other", word, "", False, True)
    stop = norm in _NOT_FIRST_NAMES or word in _NOT_FIRST_NAMES
    if cyrillic:
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
    surname_like = norm.endswith(ends) and len(norm) >= 5 and norm not in _NOT_SURNAMES
    return (kind, norm, listed, surname_like, stop)


def _decide(
    i: int,
    tokens: list[tuple[int, int, str]],
    info: list[tuple[str, str, str, bool, bool]],
    text: str,
    at_start: bool,
    names: _Names,
) -> str | None:
    """The placeholder category for token ``i``, or None to keep it."""
    kind, norm, listed, surname_like, _ = info[i]

    def neighbour(j: int) -> tuple[str, str, bool] | None:
        """(listed, kind, surname-like) of token j if it is a name-like word next to i."""
        if not 0 <= j < len(tokens):
            return None
        a, b = sorted((i, j))
        if text[tokens[a][1] : tokens[b][0]].strip(" \t,") != "":
            return None
        k, _, lst, sur, stop = info[j]
        if stop or k in {"lower", "other"}:
            return None
        return lst, k, sur

    after, before = neighbour(i + 1), neighbour(i - 1)
    name_next = after is not None and (after[0] in {"first", "surname"} or after[2])
    surname_next = after is not None and (after[0] == "surname" or after[2])
    if kind == "cap":
        if not at_start:
            previous = tokens[i - 1][2] if i else ""
            return "place" if previous in _PLACE_PREPOSITIONS else "name"
        if listed in {"first", "surname"} or surname_next:
            return "name"
        if listed == "ambiguous" and name_next:
            return "name"
        return None
    if kind == "upper":
        if listed in {"first", "surname"}:
            return "name"
        next_to_name = any(n is not None and n[0] in {"first", "surname"} for n in (before, after))
        if (listed == "ambiguous" or surname_like) and next_to_name:
            return "name"
        return None
    # Latin letters
    if listed == "first":
        return "name"
    if surname_like and (not at_start or name_next):
        return "name"
    if kind == "cap-latin" and surname_next and not at_start:
        return "name"
    if kind == "cap-latin" and surname_next and at_start:
        return "name"
    if surname_like and before is not None and before[1].startswith("cap"):
        return "name"
    return None


# --------------------------------------------------------------------------- callbacks


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
    for category, pattern, replace in _rules():
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
    * Before redaction, any ``respondent_id`` or ``service_id`` value found in an
      answer is replaced by the ``code`` placeholder.
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
    ids = _known_ids(data)
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


def _known_ids(data: pd.DataFrame) -> re.Pattern[str] | None:
    values: set[str] = set()
    for column in ("respondent_id", "service_id"):
        if column in data.columns:
            values |= {str(v) for v in data[column].dropna().unique() if len(str(v).strip()) >= 3}
    if not values:
        return None
    return re.compile(
        r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(values, key=len)[::-1])) + r")(?!\w)"
    )


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
