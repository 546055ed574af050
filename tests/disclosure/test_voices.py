"""Redaction of children's free-text answers and disclosure-safe quote selection."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from research_lib.disclosure.voices import (
    COMMON_FIRST_NAMES,
    PLACEHOLDERS,
    redact,
    select_quotes,
)
from research_lib.errors import InputError
from research_lib.paths import REFERENCE_DIR

BG = PLACEHOLDERS["bg"]
EN = PLACEHOLDERS["en"]


# --------------------------------------------------------------------------- redact

#: The synthetic survey's answers that carry an identifier, and the expected result.
SYNTHETIC = [
    (
        "Казвам се Иван Петров и искам да се прибера у дома.",
        "Казвам се [име] и искам да се прибера у дома.",
    ),
    (
        "Искам да виждам майка си по-често, телефонът ѝ е 0888 123 456.",
        "Искам да виждам майка си по-често, телефонът ѝ е [телефон].",
    ),
    (
        "Искам да ми пишат на maria.ivanova@example.com, когато ме местят.",
        "Искам да ми пишат на [имейл], когато ме местят.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SYNTHETIC)
def test_synthetic_answers_are_redacted_exactly(text, expected):
    assert redact(text) == expected


#: (category, text, identifying fragments that must disappear)
IDENTIFIERS = [
    # e-mail
    ("email", "Пиши ми на ivan_99@abv.bg утре.", ["ivan_99", "abv.bg"]),
    ("email", "Write to me at john.smith+kid@mail.co.uk please.", ["john.smith", "mail.co.uk"]),
    # phones
    ("phone", "Номерът ми е 0888123456.", ["0888123456"]),
    ("phone", "Обади се на 0888 123 456 довечера.", ["0888 123 456"]),
    ("phone", "Звънни на +359 88 812 3456.", ["88 812 3456"]),
    ("phone", "Звънни на 00359 88 812 3456.", ["812 3456"]),
    ("phone", "Телефонът у дома е 02/123 45 67.", ["123 45 67"]),
    ("phone", "Телефонът у дома е 02 987 6543.", ["987 6543"]),
    ("phone", "Телефонът у дома е (02) 987 6543.", ["987 6543"]),
    ("phone", "Call me on +359 (0) 88 812 3456 tonight.", ["812 3456"]),
    # dates
    ("date", "Роден съм на 12.03.2011 в болницата.", ["12.03.2011"]),
    ("date", "Родена съм на 12/03/2011.", ["12/03/2011"]),
    ("date", "Дата на раждане 2011-03-12.", ["2011-03-12"]),
    ("date", "Рожденият ми ден е 12 март 2011 г.", ["12 март", "2011"]),
    ("date", "Рожденият ми ден е на 5-ти май.", ["5-ти май"]),
    ("date", "I was born on March 12, 2011.", ["March 12", "2011"]),
    ("date", "My birthday is the 12th of March.", ["12th of March"]),
    # addresses
    ("address", "Живея на ул. „Шипка“ № 12 в София.", ["Шипка", "12"]),
    ("address", "Майка ми е на бул. Витоша 5.", ["Витоша", "5"]),
    ("address", "Баба живее в ж.к. Люлин, бл. 512, вх. А, ап. 12.", ["Люлин", "512", "ап. 12"]),
    ("address", "Бяхме в кв. Лозенец до парка.", ["Лозенец"]),
    ("address", "Живеех на улица Раковски 5 преди.", ["Раковски"]),
    ("address", "My mum lives on ulitsa Vitosha 3 now.", ["Vitosha"]),
    ("address", "My mum lives at str. Rakovski 5 now.", ["Rakovski"]),
    ("address", "I lived at 12 Shipka Street before.", ["Shipka", "12"]),
    # places, services, schools
    ("place", "Бях в ЦНСТ „Слънце“ две години.", ["Слънце"]),
    ("place", "Ходя на училище в гр. Белоградчик.", ["Белоградчик"]),
    ("place", "Ходя на училище в село Долно Ново Село.", ["Долно", "Ново"]),
    ("place", "Уча в 125 СУ и в СУ № 7.", ["125", "7"]),
    # names
    ("name", "Казвам се иван петров и съм на 12.", ["иван", "петров"]),
    ("name", "Аз съм Мария и живея при баба.", ["Мария"]),
    ("name", "Името ми е Боряна.", ["Боряна"]),
    ("name", "Викат ми Гоги.", ["Гоги"]),
    ("name", "Брат ми Георги не идва.", ["Георги"]),
    ("name", "Сестра ми Калипсо ми липсва.", ["Калипсо"]),
    ("name", "Искам да виждам майка ми Донка.", ["Донка"]),
    ("name", "Баба ми Мара готви най-хубаво.", ["Мара"]),
    ("name", "Възпитателката Зоя ни крещи.", ["Зоя"]),
    ("name", "Г-жа Стоянова е добра, а г-н Колев не е.", ["Стоянова", "Колев"]),
    ("name", "Говорих с Боряна Кънчева вчера.", ["Боряна", "Кънчева"]),
    ("name", "Много обичам Ванката и Мими.", ["Ванката", "Мими"]),
    ("name", "Искам да говоря с Иванова за това.", ["Иванова"]),
    ("name", "Иван Петров Иванов ми е приятел.", ["Иван", "Петров", "Иванов"]),
    ("name", "My name is john smith and I like football.", ["john", "smith"]),
    ("name", "I'm Ivan and my sister Kate lives with us.", ["Ivan", "Kate"]),
    ("name", "My friend Petar Ivanov helps me.", ["Petar", "Ivanov"]),
    ("name", "Mrs Brown and Mr. Petrov are kind.", ["Brown", "Petrov"]),
    # ЕГН / personal number
    ("id_number", "ЕГН 1103125678 ми трябва за документите.", ["1103125678"]),
    ("id_number", "Моето ЕГН е 0543125678.", ["0543125678"]),
    ("id_number", "ЕГН: 110312 5678.", ["110312 5678"]),
    ("id_number", "My EGN is 1103125678.", ["1103125678"]),
    # links, handles
    ("profile", "Пишете ми в instagram @ivan_petrov_12 или https://facebook.com/ivan.p.", ["ivan"]),
]


@pytest.mark.parametrize(
    ("category", "text", "fragments"),
    IDENTIFIERS,
    ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(IDENTIFIERS)],
)
@pytest.mark.parametrize("language", ["bg", "en"])
def test_each_kind_of_identifier_is_removed(category, text, fragments, language):
    out = redact(text, language=language)
    marks = PLACEHOLDERS[language]
    assert marks[category] in out, out
    stripped = out
    for mark in marks.values():
        stripped = stripped.replace(mark, " ")
    for fragment in fragments:
        assert fragment not in stripped, out


@pytest.mark.parametrize(
    "text",
    [
        "Да можем сами да си избираме храната.",
        "Искам да виждам брат си по-често.",
        "Искам мама да има повече време за мен.",
        "Да имам собствена стая.",
        "Нищо, добре ми е вкъщи.",
        "Баба да не се тревожи толкова за пари.",
        "Да имам повече приятели в училище.",
        "Да остана при приемното семейство, докато завърша.",
        "По-малко смяна на социални работници.",
        "Да не се сменят възпитателите толкова често.",
        "Искам някой да ме пита какво мисля, преди да решат.",
        "Да има ключ за моето шкафче.",
        "Да живея в истински дом.",
        "Да не ни заключват вечер.",
        "Ходя в 10 клас и съм на 14 години.",
        "Толкова искам да се върна у дома. Готова съм.",
        "Обичам баба си и дядо си, а брат ми е на 8.",
        "Имам 2 сестри и 1 брат.",
        "I want to see my brother more often.",
        "Nothing, I am happy here.",
    ],
)
def test_text_without_identifiers_is_unchanged(text):
    assert redact(text) == text
    assert redact(text, language="en") == text


def test_english_placeholders_and_merged_address():
    text = "My name is Maria, I live at bl. 5, vh. 2, ap. 12 and my phone is 0888 123 456."
    out = redact(text, language="en")
    assert out.startswith("My name is [name], I live at [address]")
    assert out.endswith("my phone is [phone].")
    assert redact("Живея на ул. Шипка 12, бл. 5, ап. 3.") == "Живея на [адрес]."


def test_redaction_is_idempotent_and_keeps_the_rest():
    text = "Казвам се Иван Петров, живея на ул. Шипка 12 и телефонът ми е 0888 123 456."
    once = redact(text)
    assert redact(once) == once
    assert once == "Казвам се [име], живея на [адрес] и телефонът ми е [телефон]."


def test_ten_digits_mobile_or_egn():
    assert redact("0898123456") == BG["phone"]
    assert redact("0541125678") == BG["id_number"]  # born 11.01.2005
    assert redact("9912315678") == BG["id_number"]


def test_name_list_is_large_and_capitalised():
    assert len(COMMON_FIRST_NAMES) >= 150
    assert all(name[0].isupper() for name in COMMON_FIRST_NAMES)
    assert {"Иван", "Мария", "Ванката", "Мими"} <= COMMON_FIRST_NAMES


def test_redact_refuses_bad_input():
    with pytest.raises(TypeError):
        redact(None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="language"):
        redact("текст", language="de")


# --------------------------------------------------------------------------- issue 15 gaps

#: The redaction gaps reported in issue 15 and their neighbours: (text, fragments that
#: must disappear). Expected results are written by hand from the issue's payloads.
GAPS = [
    # phones in every Bulgarian shape
    ("Телефонът на баба е 987 65 43.", ["987", "65 43"]),
    ("Звънни на 98 76 543 вечер.", ["98 76 543"]),
    ("Звънни на +359888123456 утре.", ["888123456"]),
    ("Звънни на 359 88 812 3456 утре.", ["812 3456"]),
    ("Мобилният ми е 0888 12 34 56.", ["12 34 56"]),
    ("Мобилният ми е 088-812-34-56.", ["812-34-56"]),
    ("Мобилният ми е 088 812 3456.", ["812 3456"]),
    ("Вкъщи е 02 987 65 43, а на село 65 43 21.", ["987 65 43", "65 43 21"]),
    # obfuscated e-mails
    ("Пиши ми на ivan.petrov(at)gmail.com после.", ["ivan", "petrov", "gmail"]),
    ("Пиши ми на ivan.petrov [at] gmail [dot] com после.", ["ivan", "petrov", "gmail"]),
    ("Пиши ми на ivan at abv dot bg после.", ["ivan", "abv"]),
    ("Пиши ми на maria маймунка abv.bg после.", ["maria", "abv"]),
    ("Пиши ми на maria @ abv . bg после.", ["maria", "abv"]),
    # addresses with and without dots
    ("Живея в жк Младост 3 бл 12 вх Б ап 7 с мама.", ["Младост", "12", "вх Б", "ап 7"]),
    ("Живея в ж.к. Младост 3, бл. 12, вх. Б, ап. 7 с мама.", ["Младост", "12", "ап. 7"]),
    ("Живея на ул Шипка 12 с баба.", ["Шипка", "12"]),
    ("Живея на ул. Шипка 12 с баба.", ["Шипка", "12"]),
    ("Живея на бул Витоша 5 сега.", ["Витоша", "5"]),
    ("Живея на Шипка 12 с баба.", ["Шипка", "12"]),
    # services and schools
    ("Бях в ЦНСТ Слънце две години.", ["Слънце"]),
    ("Бях в ЦНСТ „Слънце“ две години.", ["Слънце"]),
    ("Сега съм в КСУ Звънче гр Пловдив и ми харесва.", ["Звънче", "Пловдив"]),
    ("Уча в Математическата гимназия от миналата година.", ["Математическата"]),
    ("Уча в математическата гимназия в града.", ["математическата"]),
    ("Ходех в ДГ „Радост“ и после в ОУ Христо Ботев.", ["Радост", "Христо", "Ботев"]),
    ("Живях в ДДЛРГ „Надежда“ гр Видин.", ["Надежда", "Видин"]),
    ("Бях в ЦНСТДБУ Детелина и в ЦНСТПЛУ Бреза.", ["Детелина", "Бреза"]),
    ("Ходя в ЦОП Закрила в града.", ["Закрила"]),
    ("Уча в ПГ по туризъм Алеко Константинов.", ["Алеко", "Константинов"]),
    ("Ходя на училище Христо Смирненски всеки ден.", ["Смирненски"]),
    ("Живеех в с Бистрица, община Самоков.", ["Самоков"]),
    # all-caps full names: both words
    ("ГЕОРГИ ИВАНОВ ме бие.", ["ГЕОРГИ", "ИВАНОВ"]),
    ("МРАЗЯ КОГАТО СТЕФАНКА ПЕТРОВА ВИКА.", ["СТЕФАНКА", "ПЕТРОВА"]),
    # surnames at the start of a sentence
    ("Петрова не ни дава телефоните.", ["Петрова"]),
    ("Алиев ни краде храната.", ["Алиев"]),
    ("Тук е добре. Иванова ми помага.", ["Иванова"]),
    ("Зюмбюла Петрова е моята възпитателка.", ["Зюмбюла", "Петрова"]),
    # names missing from the short list, inside and at the start of a sentence
    ("Стефанка е добра с мен.", ["Стефанка"]),
    ("Кремена ми помага с уроците.", ["Кремена"]),
    ("Искам да виждам Зюмбюла по-често.", ["Зюмбюла"]),
    ("стефанка и петрова ме тормозят.", ["стефанка", "петрова"]),
    # vocatives
    ("Иване, ела тук!", ["Иване"]),
    ("Марийо, не плачи.", ["Марийо"]),
    ("Пешо е най-добрият ми приятел.", ["Пешо"]),
    ("Петре, помогни ми.", ["Петре"]),
    ("Таньо, обади се.", ["Таньо"]),
    # handles
    ("Пиши ми в инстаграм ivan_2011 или @ivan вечерта.", ["ivan"]),
    ("Търси ме като maria.p99 в играта.", ["maria"]),
    ("Моят профил е petar2010 навсякъде.", ["petar"]),
]


@pytest.mark.parametrize(("text", "fragments"), GAPS, ids=[t[:30] for t, _ in GAPS])
def test_issue_15_redaction_gaps_are_closed(text, fragments):
    out = redact(text)
    stripped = out
    for mark in BG.values():
        stripped = stripped.replace(mark, " ")
    for fragment in fragments:
        assert fragment not in stripped, out
    assert any(mark in out for mark in BG.values()), out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ГЕОРГИ ИВАНОВ ме бие.", "[име] ме бие."),
        ("Бях в ЦНСТ Слънце две години.", "Бях в ЦНСТ [място] две години."),
        ("Сега съм в КСУ Звънче гр Пловдив.", "Сега съм в КСУ [място]."),
        ("Живея в жк Младост 3 бл 12 вх Б ап 7.", "Живея в [адрес]."),
        ("Иване, ела! Петрова не ни пуска.", "[име], ела! [име] не ни пуска."),
        ("Пиши на ivan.petrov(at)gmail.com или на 987 65 43.", "Пиши на [имейл] или на [телефон]."),
        ("Уча в Математическата гимназия.", "Уча в [място]."),
        ("Искам да видя майка ми в Самоков.", "Искам да видя майка ми в [място]."),
    ],
)
def test_gap_payloads_give_exact_output(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # names that are also ordinary words are kept at the start of a sentence
        "Вяра имам, че ще се оправи.",
        "Надежда няма, но ще опитам.",
        "Любов ми трябва, не пари.",
        "Радост е, когато сме заедно.",
        # capitalised words children use that name nobody
        "Обичам Коледа и Великден.",
        "Бог да пази мама и тате.",
        "Играя Майнкрафт в Неделя.",
        "Искам да отида в България на море.",
        # numbers that are not phones, common words that look like surnames
        "Имам 100 000 точки в играта.",
        "Година по-късно ме преместиха. Причина нямаше.",
        "Готова съм да се върна. Нова съм тук.",
        "Моето училище е хубаво.",
        "Кв става, всичко е наред.",
        "Уча в 7 клас и имам 2 братя.",
        "Ап, ето ме.",
        "Любимият ми предмет е Математика.",
        "Възпитателите са добри, особено през Лятото.",
        "Ходя на Футбол и на Плуване.",
    ],
)
def test_ordinary_words_are_kept(text):
    assert redact(text) == text


def test_unlisted_capitalised_words_inside_a_sentence_are_removed():
    """A capitalised word inside a Bulgarian sentence is a proper noun: a nickname or a
    place that no list holds is still removed (after в / във as a place)."""
    assert redact("Искам да видя Жорката утре.") == "Искам да видя [име] утре."
    assert redact("Преди живеех във Видин.") == "Преди живеех във [място]."
    assert redact("ГОШКО и Зюмбюла ме бият.") == "ГОШКО и [име] ме бият."


def test_ambiguous_names_are_removed_inside_a_sentence_or_next_to_a_name():
    assert redact("Искам да говоря с Надежда.") == "Искам да говоря с [име]."
    assert redact("Вяра Петрова ми помага.") == "[име] ми помага."
    assert redact("Казвам се Вяра.") == "Казвам се [име]."


def test_name_lists_are_large_and_documented():
    # listed names, diminutives and vocatives are removed on their own, even at the start
    for name in ("Стефанка", "Кремена", "Иван", "Иване", "Марийо", "Пешо", "Мария"):
        assert redact(f"{name} ми помага.") == "[име] ми помага."
    for name in ("Вяра", "Надежда", "Любов", "Роза"):  # ambiguous: only in context
        assert redact(f"{name} ми помага.") == f"{name} ми помага."
    readme = (REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    for source in ("bg_first_names.csv", "bg_surnames.csv", "Faker", "bg-test-data", "MIT"):
        assert source in readme
    first = pd.read_csv(REFERENCE_DIR / "bg_first_names.csv")
    assert list(first.columns) == ["name", "sex", "ambiguous", "word", "vocatives", "source"]
    assert len(first) >= 2000
    assert first["name"].is_unique and first["sex"].isin(["m", "f"]).all()
    surnames = pd.read_csv(REFERENCE_DIR / "bg_surnames.csv")
    assert {"Петров", "Петрова", "Петрови", "Алиев", "Алиева"} <= set(surnames["form"])


def _embed(filler: str, size: int) -> tuple[str, list[str]]:
    """``size`` characters of ``filler`` with identifiers at the start, middle and end."""
    secrets = [" 0888 123 456 ", " ivan.petrov(at)gmail.com ", " ЦНСТ Слънце ", " Стефанка "]
    body = (filler * (size // len(filler) + 1))[:size]
    third = size // 3
    text = secrets[0] + body[:third] + secrets[1] + body[third:] + secrets[2] + "." + secrets[3]
    return text, ["0888", "ivan", "gmail", "Слънце", "Стефанка"]


@pytest.mark.parametrize(
    "filler",
    ["a", "иванпетров", "a@", "a.", "7", "12 ", "ivan_2011", "Петров ", "ул бл вх ап "],
    ids=[
        "letters",
        "cyrillic",
        "at-signs",
        "dots",
        "digits",
        "digit-groups",
        "handles",
        "surnames",
        "address-words",
    ],
)
def test_one_megabyte_answer_is_redacted(filler):
    """A 1 MB answer with and without spaces is redacted completely (linear-time patterns:
    a quadratic one would take hours here; the timing itself is in
    benchmarks/bench_redact.py, not asserted)."""
    text, fragments = _embed(filler, 1_000_000)
    out = redact(text)
    head, tail = out[:200], out[-200:]
    assert BG["phone"] in head and "0888" not in head
    assert "Стефанка" not in tail and "Слънце" not in tail
    assert "ivan.petrov(at)gmail" not in out and "gmail" not in out


def test_one_megabyte_of_sentences_is_redacted():
    sentence = (
        "Искам да виждам брат си по-често. Да има ключ за моето шкафче. "
        "Казвам се Иван Петров, телефон 0888 123 456. Пиши на ivan(at)abv.bg. "
    )
    text = sentence * (1_000_000 // len(sentence) + 1)  # whole sentences, just over 1 MB
    out = redact(text)
    for fragment in ("Иван", "Петров", "0888", "abv"):
        assert fragment not in out
    assert out.count("Искам да виждам брат си по-често.") >= 4000


# --------------------------------------------------------------------------- select_quotes


def survey(groups: dict[str, tuple[int, list[str]]]) -> pd.DataFrame:
    """One row per child: group -> (number of children, their answers; the rest empty)."""
    rows = []
    for group, (size, answers) in groups.items():
        for i in range(size):
            rows.append({"placement_type": group, "voice": answers[i] if i < len(answers) else ""})
    frame = pd.DataFrame(rows)
    frame.insert(0, "respondent_id", [f"R2025-{i:05d}" for i in range(len(frame))])
    frame["service_id"] = "CNST-BG311-000"
    return frame


ANSWERS = [
    "Да можем сами да си избираме храната.",
    "Да има ключ за моето шкафче.",
    "Казвам се Иван Петров и искам да се прибера у дома.",
    "Да не ни заключват вечер.",
    "Искам да виждам брат си по-често.",
    "Да живея в истински дом.",
]


def test_groups_below_min_cell_are_dropped():
    data = survey(
        {
            "cnst": (8, ANSWERS),  # 8 children, 6 answered
            "foster": (4, ANSWERS[:4]),  # 4 children: too few
            "kinship": (20, ANSWERS[:3]),  # 20 children but only 3 answered
        }
    )
    out = select_quotes(data)
    assert list(out.columns) == ["group", "quote", "n_group"]
    assert set(out["group"]) == {"cnst"}
    assert (out["n_group"] == 8).all()
    assert len(out) == 3
    assert set(select_quotes(data, min_cell=3)["group"]) == {"cnst", "foster", "kinship"}
    assert select_quotes(data, min_cell=7).empty


def test_quotes_are_redacted_deduplicated_and_never_carry_ids():
    answers = [*ANSWERS, ANSWERS[0], ANSWERS[0].upper().lower().capitalize(), "Не.", "Да, да"]
    answers += ["Моят номер в анкетата е R2025-00003, пишете ми."]
    data = survey({"cnst": (12, answers)})
    out = select_quotes(data, per_group=50)
    quotes = out["quote"].tolist()
    assert len(quotes) == len(set(q.casefold() for q in quotes))
    assert "Казвам се [име] и искам да се прибера у дома." in quotes
    assert not any("Иван" in q or "Петров" in q for q in quotes)
    assert "Не." not in quotes and "Да, да" not in quotes  # fewer than 3 words
    assert "Моят номер в анкетата е [код], пишете ми." in quotes
    text = out.to_csv(index=False)
    assert not re.search(r"R2025-\d{5}", text) and "CNST-BG311" not in text
    assert "respondent_id" not in out.columns and "service_id" not in out.columns


def test_selection_is_deterministic_and_independent_of_row_order():
    data = survey({"cnst": (30, ANSWERS * 5), "foster": (10, ANSWERS[::-1])})
    first = select_quotes(data, per_group=2)
    pd.testing.assert_frame_equal(first, select_quotes(data, per_group=2))
    shuffled = data.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(first, select_quotes(shuffled, per_group=2))
    samples = {tuple(select_quotes(data, per_group=2, seed=s)["quote"]) for s in range(10)}
    assert len(samples) > 1
    assert first.groupby("group").size().tolist() == [2, 2]


def test_theme_groups_instead_and_english_placeholders():
    data = survey({"cnst": (10, ANSWERS)})
    data["theme"] = ["food", "privacy", "home", "freedom", "family", "home"] + ["other"] * 4
    data.loc[data["theme"] == "other", "voice"] = "Искам да виждам брат си по-често."
    out = select_quotes(data, theme="theme", min_cell=4, language="en")
    assert out["group"].tolist() == ["other"]
    assert out["n_group"].tolist() == [4]
    out = select_quotes(data, theme="theme", min_cell=2, language="en")
    assert "Казвам се [name] и искам да се прибера у дома." in out["quote"].tolist()


def test_select_quotes_refuses_bad_arguments():
    data = survey({"cnst": (6, ANSWERS)})
    with pytest.raises(InputError, match="no column"):
        select_quotes(data, text="answer")
    with pytest.raises(InputError, match="min_cell"):
        select_quotes(data, min_cell=0)


def test_demo_survey_quotes_are_safe(small_survey):
    out = select_quotes(small_survey)
    assert not out.empty
    assert (out["n_group"] >= 5).all()
    text = " ".join(out["quote"])
    for fragment in ["Иван", "Петров", "0888", "123 456", "maria.ivanova", "@"]:
        assert fragment not in text


def test_ids_of_other_waves_and_given_ids_are_masked():
    data = survey({"cnst": (6, ANSWERS)})
    data.loc[0, "voice"] = "Питайте r2024 00017 и R2023-00412 за мен, те знаят."
    data.loc[1, "voice"] = "Аз бях в CNST-BG412-007 преди, сега не."
    data.loc[2, "voice"] = "Приятелят ми е X-17, той е добре тук."
    quotes = " ".join(select_quotes(data, per_group=10, min_cell=3, known_ids=["X-17"])["quote"])
    for fragment in ("00017", "00412", "BG412", "X-17"):
        assert fragment not in quotes, quotes
    assert quotes.count(BG["code"]) >= 4


def test_qol_data_lists_every_id_of_the_file(tmp_path, qol_codebook):
    from research_lib.demo.survey import write_demo_data
    from research_lib.studies.qol import pipeline as qol

    survey_path = write_demo_data(tmp_path, qol_codebook)["survey"]
    data = qol.prepare(survey_path, qol_codebook, oblast="BG421")
    ids = data.known_ids
    current = set(data.current.index.astype(str))  # the wave analysed, one oblast
    assert current < ids
    assert set(data.load.valid["respondent_id"].astype(str)) <= ids  # all oblasts, all waves
    assert len(ids) > len(current)
    # select_quotes reads the ids of data.current from its index
    other = sorted(ids - current)[0]
    frame = data.current.copy()
    frame["voice"] = f"Моят код е {next(iter(current))}, а на приятеля ми {other}, пишете."
    quotes = select_quotes(frame, min_cell=1)["quote"]
    assert not quotes.empty and not quotes.str.contains(other, regex=False).any()
