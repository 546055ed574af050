"""Redaction of children's free-text answers and disclosure-safe quote selection."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from research_lib.errors import InputError
from research_lib.voices import (
    COMMON_FIRST_NAMES,
    PLACEHOLDERS,
    redact,
    select_quotes,
)

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
