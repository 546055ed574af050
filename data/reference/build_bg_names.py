"""Rebuild ``bg_first_names.csv`` and ``bg_surnames.csv`` (run by hand, offline).

The lists are used by :mod:`research_lib.disclosure.voices` to recognise names in children's
answers. Sources (all MIT-licensed except the dictionary, which is only consulted):

* ``hand``: common Bulgarian first names and diminutives compiled for this project
  (below), including Turkish and Roma names common in Bulgaria;
* ``bg-test-data``: the common first names and surname bases of the PyPI package
  ``bg-test-data`` 0.2.0 (MIT, Nikolay Chillev), ``bg_test_data/_data/*.py``;
* ``faker``: the ``bg_BG`` person provider of the PyPI package ``Faker`` 40.63.0 (MIT,
  joke2k and contributors), ``faker/providers/person/bg_BG/__init__.py``: about 1,600
  first names (many rare) and 150 surnames.

``ambiguous`` marks a first name that is also an ordinary Bulgarian word (``Вяра``,
``Роза``, ``Надежда``): :func:`research_lib.disclosure.voices.redact` removes those only where
capitalisation or context shows a name (inside a sentence, next to another name, after
``казвам се`` or a kinship word), not at the start of a sentence. For the ``faker``
names the flag is set when the lower-case form is a word of the Bulgarian spelling
dictionary of the Debian package ``wbulgarian`` (bgoffice, GPL-2; only looked up here,
none of its words is copied into this repository); for the other names by hand.

Usage::

    pip download --no-deps faker==40.63.0 bg-test-data==0.2.0 -d /tmp/names
    apt-get install wbulgarian   # optional: without it faker names are not flagged
    python data/reference/build_bg_names.py /tmp/names
"""

from __future__ import annotations

import ast
import csv
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DICTIONARY = Path("/usr/share/dict/bulgarian")


def _names(text: str) -> list[str]:
    return text.split()


MALE = """
Адриан Александър Алекс Сашо Сашко Алеко Ален Ангел Ангелин Андон Андрей Антон Асен Атанас
Наско Начо Благой Благо Бисер Богдан Божидар Божко Божо Бойко Бойчо Борис Боби Борислав
Боян Бранимир Валентин Вальо Валери Васил Васко Васката Велизар Велико Велин Велислав
Венелин Венци Венцислав Веселин Веско Виктор Владимир Владо Владислав Власт Вълко Вълчо
Габриел Гавраил Галин Генади Генчо Георги Гошо Жоро Гого Гьоко Горан Григор Гриша Давид
Даниел Дани Данчо Дамян Делян Деян Денис Десислав Димитър Митко Митьо Мито Димо Димчо
Добри Добрин Добромир Драгомир Драго Дончо Евгени Ефрем Емил Емилиян Ерик Живко Жельо
Желязко Захари Здравко Зафир Злати Златко Златан Иван Ванката Ваньо Ванчо Ванко Иванчо
Ивчо Ивайло Иво Ивелин Игнат Игор Илия Илийчо Илиян Илко Йордан Данчо Йоан Йосиф Йото
Калин Калоян Камен Кирил Кирчо Киро Константин Коста Костадин Коце Коцето Коко Красимир
Краси Кристиан Кристиян Кристофър Кузман Лазар Лъчезар Любен Любомир Любо Людмил Манол
Марин Марио Марко Мартин Матей Методи Милен Милко Мирослав Миро Михаил Мишо Младен
Момчил Никола Николай Ники Нико Никифор Никодим Огнян Орлин Павел Павлин Паисий Панайот
Пейо Петър Пешо Петко Петьо Пепи Пламен Пресиян Първан Радослав Радо Радко Рангел
Росен Ростислав Румен Руси Руслан Самуил Светлин Светослав Свилен Севдалин Серафим
Сергей Симеон Славчо Слави Спас Спасимир Станимир Станислав Стамен Станко Стефан Стефчо
Стилиян Стоил Стойко Стоян Страхил Теодор Тео Тодор Тошко Тончо Тони Траян Трифон
Тихомир Филип Христо Ицо Христиан Цанко Цветан Цветелин Цветомир Цвятко Цонко Чавдар
Шабан Юлиан Юри Явор Яким Янаки Янко Яни Ясен
Ахмед Ахмет Мехмед Мехмет Мустафа Хасан Хюсеин Юсуф Юсеин Ибрахим Исмаил Салим Сали
Али Алиш Ерай Ердоган Емре Енвер Ерол Джем Джемал Бейхан Байрам Бекир Кемал Метин Мурат
Невзат Орхан Осман Рамадан Реджеп Сабри Севгин Сюлейман Фикри Халил Хамди Шериф Юмер
Ридван Ремзи Неджми Недим Арда Бурак Ферди Кадир Шенол Ертан Илхан Исмет Мюмюн
Асан Кольо Марчо Митьо Мишо Ненчо Пенчо Рачо Сандо Сеньо Стойчо Тинко Томи Цено Чочо
Денислав Дейвид Джордж Джони Елиан Йоан Ивомир Калеб Кевин Лиан Лео Лука Лъчо Марк
Никълъс Ноа Патрик Робърт Себастиан Стивън Томас Тимъти Християн Юлиян
"""

FEMALE = """
Мария Мими Маша Мара Мариела Марияна Мариана Марина Маринела Мариета Маргарита Ана Ани
Анна Анелия Анета Ангелина Ангелина Антония Албена Александра Алекс Алекса Алина Биляна
Бистра Благовеста Бойка Борислава Боряна Бояна Валентина Валя Ваня Василка Велислава
Венета Венелина Вероника Веселина Весела Виктория Вики Виолета Вяра Габриела Габи Галина
Галя Гергана Гери Гинка Дана Даниела Дарина Дария Деница Дени Десислава Деси Диана Дияна
Димитрина Добринка Донка Дора Доротея Ева Евгения Ели Елена Елеонора Елисавета Елица
Елка Емилия Жана Жанета Живка Зара Здравка Зоя Зорница Ива Ивана Иванка Ивелина Ивет Илиана
Илияна Ина Ирена Ирина Йоана Йорданка Калина Камелия Карина Катерина Катя Катрин Кремена
Кристина Криси Красимира Лидия Лиляна Лили Лилия Лора Любка Людмила Люба Магдалена Мая
Мила Милена Миглена Мирела Михаела Моника Надежда Надя Наталия Невена Нели Никол Николета
Николина Нина Нора Олга Павлина Пенка Петя Петранка Пепа Пламена Полина Преслава Радина
Радка Радост Ралица Рая Роза Росица Роси Румяна Сабина Светла Светлана Сиана Сияна Силвия
Симона Снежана Соня София Софи Станислава Стефани Стефка Стефанка Таня Татяна Теодора
Теди Тереза Тинка Тодорка Тони Тоня Фани Христина Цвета Цветелина Цвети Цветана Юлия
Юлияна Яна Янка Яница Ясмина Бианка Ирис Ния Никол Емили Алексия Виктория Нея Мирослава
Анастасия Дамяна Доника Кали Кристиана Симона Пресияна Вивиан Стела Ребека Ема Есил
Айше Айшегюл Фатме Фатма Емине Зейнеп Гюлсюм Гюлтен Гюлай Севгюл Севдие Нурие Назиме
Незиха Сабрие Сейде Шенай Шукрие Елиф Ебру Аксел Айлин Дениз Мелек Мерием Мелис Мюнире
Нермин Есра Хатидже Хава Хюлия Юлкер Асия Лейла Медине Ренета
"""

#: Hand-picked first names that are also ordinary words (redacted only in context).
AMBIGUOUS_HAND = set(
    _names(
        """Вяра Надежда Любов Радост Мила Светла Слава Роза Искра Злата Калина Лилия Весела
    Дара Дена Вела Рая Стела Дениз Мелек Бисер Благо Лука Власт Зара Кали
    Лео Марк Тома Елка Злати"""
    )
)

SURNAMES = """
Иванов Петров Георгиев Димитров Николов Христов Стоянов Тодоров Йорданов Василев Атанасов
Петков Ангелов Костов Илиев Колев Маринов Стефанов Кръстев Попов Михайлов Павлов Александров
Симеонов Цветков Найденов Пенев Митев Русев Станев Станчев Янков Славов Костадинов Ковачев
Марков Лазаров Кирилов Борисов Желев Жеков Радев Илиев Маринов Добрев Великов Григоров
Ненов Вълчев Драганов Игнатов Антонов Асенов Бойчев Денев Ганев Генов Минчев Начев Рашков
Трифонов Стойчев Стойков Пейчев Бончев Дочев Вазов Ботев Левски Яворов Алиев Ахмедов
Мехмедов Мустафов Хасанов Юсеинов Исмаилов Салиев Ибрямов Османов Халилов Рамаданов
Асанов Юсуфов Шабанов Мюмюнов Байрямов Хюсеинов Кадиров Сюлейманов Емилов Младенов
Тончев Кунчев Кънчев Колчев Милчев Минков Ненчев Пенчев Рачев Спасов Ценов Цонев Чолаков
Карагьозов Хаджиев Попова Дечев Дочев Златев Иликов Кацаров Керанов Куртев Лалев Мавродиев
Манолов Миланов Мирчев Михов Недялков Нейков Нинов Панов Пашов Радулов Райков Ранчев
Савов Сотиров Танев Тасев Терзиев Топалов Узунов Филипов Чакъров Чернев Шишков Янев
Ковачки Стамболийски Раковски Бакърджиев Данаилов Дамянов Костадинов Кьосев Монов
"""


def _wheel(folder: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(folder.glob(f"{prefix}*.whl"))
    if not found:
        raise SystemExit(f"no {prefix}*.whl in {folder}: pip download it first (see --help)")
    return zipfile.ZipFile(found[-1])


def _literals(source: str) -> dict[str, list[str]]:
    """Every ``NAME = (...)`` / ``NAME: list[str] = [...]`` of string literals."""
    out: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        target, value = None, None
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        if target and isinstance(value, ast.Tuple | ast.List):
            out[target] = [e.value for e in value.elts if isinstance(e, ast.Constant)]
    return out


def _clean(name: str) -> str | None:
    name = name.strip()
    if not name or not name.replace("-", "").isalpha() or len(name) < 2:
        return None
    if any("a" <= c.lower() <= "z" for c in name):
        return None
    return "-".join(part.capitalize() for part in name.split("-"))


def main(folder: Path) -> None:
    words: set[str] = set()
    if DICTIONARY.exists():
        words = {w for w in DICTIONARY.read_text(encoding="utf-8").split() if w.islower()}
    else:
        print(f"note: {DICTIONARY} missing, faker names are not flagged as ambiguous")
    first: dict[str, dict[str, str]] = {}

    def add(name: str, sex: str, source: str, ambiguous: bool) -> None:
        clean = _clean(name)
        if clean is None or clean in first:
            return
        first[clean] = {
            "name": clean,
            "sex": sex,
            "ambiguous": str(int(ambiguous)),
            "source": source,
        }

    for sex, text in (("m", MALE), ("f", FEMALE)):
        for name in text.split():
            add(name, sex, "hand", name in AMBIGUOUS_HAND)
    with _wheel(folder, "bg_test_data") as wheel:
        base = "bg_test_data/_data/"
        males = _literals(wheel.read(base + "first_names_male.py").decode())["MALE_FIRST_NAMES"]
        females = _literals(wheel.read(base + "first_names_female.py").decode())[
            "FEMALE_FIRST_NAMES"
        ]
        surname_bases = _literals(wheel.read(base + "last_names.py").decode())["LAST_NAME_BASES"]
    for sex, names in (("m", males), ("f", females)):
        for name in names:
            add(name, sex, "bg-test-data", name in AMBIGUOUS_HAND)
    with _wheel(folder, "faker") as wheel:
        faker = _literals(wheel.read("faker/providers/person/bg_BG/__init__.py").decode())
    for sex, key in (("m", "first_names_male"), ("f", "first_names_female")):
        for name in faker[key]:
            add(name, sex, "faker", name.lower() in words or name in AMBIGUOUS_HAND)

    for row in first.values():
        forms = [v for v in vocatives(row["name"], row["sex"]) if v.lower() not in words]
        row["vocatives"] = " ".join(forms)
        row["word"] = str(int(row["name"].lower() in words))

    bases: dict[str, str] = {}
    for name in SURNAMES.split():
        bases.setdefault(_masculine(name), "hand")
    for name in surname_bases:
        bases.setdefault(_masculine(name), "bg-test-data")
    for name in faker["last_names_male"] + faker["last_names_female"]:
        clean = _clean(name)
        if clean:
            bases.setdefault(_masculine(clean), "faker")
    for row in first.values():
        if row["sex"] == "m" and row["source"] != "faker" and row["ambiguous"] == "0":
            for base in patronymics(row["name"]):
                bases.setdefault(base, "from first name")
    surnames: dict[str, tuple[str, str]] = {}
    for base, source in bases.items():
        for form in surname_forms(base):
            if form.lower() not in words:
                surnames.setdefault(form, (base, source))

    fields = ["name", "sex", "ambiguous", "word", "vocatives", "source"]
    with open(HERE / "bg_first_names.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(first.values(), key=lambda row: (row["name"], row["sex"])))
    with open(HERE / "bg_surnames.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["form", "base", "source"])
        writer.writerows(sorted((form, *rest) for form, rest in surnames.items()))
    print(f"{len(first)} first names, {len(bases)} surname bases, {len(surnames)} surname forms")


def vocatives(name: str, sex: str) -> list[str]:
    """Vocative forms of a first name (``Иван`` -> ``Иване``, ``Мария`` -> ``Марийо``)."""
    vowels = "аеиоуъюяѝ"
    last = name[-1]
    if sex == "m":
        if name.endswith("ър"):
            return [name[:-2] + "ре"]
        if last not in vowels and last != "й":
            return [name + "е"]
        return []
    if name.endswith("я"):
        return [name[:-1] + ("йо" if name[-2] in vowels else "ьо")]
    if name.endswith(("ка", "ца")):
        return [name[:-1] + "е", name[:-1] + "о"]
    if last == "а":
        return [name[:-1] + "о"]
    return []


def patronymics(name: str) -> list[str]:
    """Surnames formed from a man's first name (``Петър`` -> ``Петров``, ``Али`` -> ``Алиев``)."""
    if name.endswith("ър"):
        stem = name[:-2] + "р"
    elif name.endswith(("о", "а", "е")):
        stem = name[:-1]
    elif name.endswith("й"):
        return [name[:-1] + "ев"]
    else:
        stem = name
    if len(stem) < 3:
        return []
    return [stem + "ов", stem + "ев"]


def surname_forms(base: str) -> list[str]:
    """A surname in its masculine, feminine and plural forms."""
    for male, female, plural in (
        ("ов", "ова", "ови"),
        ("ев", "ева", "еви"),
        ("ски", "ска", "ските"),
        ("цки", "цка", "цките"),
        ("ин", "ина", "ини"),
    ):
        if base.endswith(male):
            stem = base[: -len(male)]
            return [base, stem + female, stem + plural]
    return [base]


def _masculine(name: str) -> str:
    """The masculine form of a surname (``Петрова`` -> ``Петров``, ``Левска`` -> ``Левски``)."""
    for female, male in (
        ("ова", "ов"),
        ("ева", "ев"),
        ("ска", "ски"),
        ("цка", "цки"),
        ("ина", "ин"),
    ):
        if name.endswith(female) and len(name) > len(female) + 1:
            return name[: -len(female)] + male
    return name


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in {"-h", "--help"}:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
