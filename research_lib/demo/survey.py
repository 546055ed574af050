"""Synthetic demo data: a survey with planted, documented differences.

Nothing here is real. The demo survey lets every later study show that the
analysis finds what was planted: differences between placement types per
domain, a change between waves, service-level clustering (ICC about 0.1),
realistic missing answers and a handful of free-text answers with personal
details for the redaction demo. Generation is deterministic for a given seed.

The model, per child *i* in service *s* and domain *d*::

    T[i, d] = base[d] + effect[placement, d] + wave_change[placement, d]
              + age_slope[d] * (age - 12) + u[s, d] + e[i, d]
    u ~ N(0, SERVICE_SD²), e ~ N(0, CHILD_SD²)   -> ICC = 0.1

and each item answer is the latent score mapped onto the item's scale with item
noise, rounded, turned for reverse items. ``PLANTED`` holds the effects; the demo
README is written from it, so the documentation cannot drift from the data.

Examples
--------
>>> from research_lib.paths import SURVEYS_DIR
>>> from research_lib.io.codebook import load_codebook
>>> survey = make_survey(load_codebook(SURVEYS_DIR / "qol-child-v1.yaml"), n_services=20, seed=1)
>>> set(survey["placement_type"].unique()) <= {"family", "kinship", "foster", "cnst", "institution",
...     "семейство", "при близки и роднини", "приемна грижа", "ЦНСТ", "институция"}
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.io.codebook import Codebook
from research_lib.io.oblasts import load_oblasts
from research_lib.io.vocab import PLACEMENT_TYPES

__all__ = [
    "DEFAULT_SEED",
    "PLANTED",
    "WAVE_CHANGE",
    "ITEM_SD_BY_DOMAIN",
    "SERVICE_SD",
    "CHILD_SD",
    "make_survey",
    "make_broken_survey",
    "write_demo_data",
]

DEFAULT_SEED = 20251124
WAVES = ("2024", "2025")
#: Latent score SDs: service 7.0 and child 21.0 give an ICC of 49 / (49 + 441) = 0.10.
SERVICE_SD = 7.0
CHILD_SD = 21.0
ITEM_SD = 14.0
#: Domains whose items are planted to be noisier, so reliability falls below 0.7
#: there and the report's reliability flag has something to find.
ITEM_SD_BY_DOMAIN: dict[str, float] = {"future": 34.0}
BASE_SCORE = 68.0

#: Planted differences in domain score points (0-100) against foster care, by placement type.
#: Domains of other instruments get no planted effect.
PLANTED: dict[str, dict[str, float]] = {
    "family": {"family_contact": 12.0, "homeliness": 6.0, "participation": 3.0},
    "kinship": {"family_contact": 10.0, "school": -5.0, "independent_living": -3.0},
    "foster": {},
    "cnst": {
        "participation": -12.0,
        "homeliness": -15.0,
        "relationships": -6.0,
        "independent_living": -8.0,
        "emotional": -5.0,
        "family_contact": -4.0,
    },
    "institution": {
        "participation": -18.0,
        "homeliness": -22.0,
        "relationships": -12.0,
        "emotional": -10.0,
        "safety": -8.0,
        "family_contact": -10.0,
    },
}
#: Change from the first to the second wave (points), by placement type and domain.
WAVE_CHANGE: dict[str, dict[str, float]] = {
    "cnst": {"participation": 6.0, "homeliness": 4.0},
    "foster": {"independent_living": 3.0},
}
#: Slope per year of age above 12 (points), by domain.
AGE_SLOPE: dict[str, float] = {"emotional": -1.2, "future": -0.8, "independent_living": 2.0}

#: Share of services by placement type, and children surveyed per service (mean).
SERVICE_MIX = {"family": 0.12, "kinship": 0.14, "foster": 0.30, "cnst": 0.36, "institution": 0.08}
CHILDREN_PER_SERVICE = {"family": 6, "kinship": 6, "foster": 6, "cnst": 7, "institution": 5}

#: How placement types are written in the demo file: the canonical code mostly,
#: Bulgarian labels sometimes, as in real exports.
_BG_LABELS = {
    "family": "семейство",
    "kinship": "при близки и роднини",
    "foster": "приемна грижа",
    "cnst": "ЦНСТ",
    "institution": "институция",
}
_SERVICE_PREFIX = {
    "family": "CSS",
    "kinship": "KIN",
    "foster": "FOS",
    "cnst": "CNST",
    "institution": "INST",
}

# Synthetic free-text answers ("If you could change one thing ...?"). Some carry a
# name, phone, e-mail or address on purpose: the redaction demo must catch them.
_VOICES = {
    "family": [
        "Искам мама да има повече време за мен.",
        "Да имам собствена стая.",
        "Нищо, добре ми е вкъщи.",
    ],
    "kinship": [
        "Баба да не се тревожи толкова за пари.",
        "Искам да виждам брат си по-често.",
        "Да имам повече приятели в училище.",
    ],
    "foster": [
        "Искам да виждам майка си по-често, телефонът ѝ е 0888 123 456.",
        "Да остана при приемното семейство, докато завърша.",
        "По-малко смяна на социални работници.",
    ],
    "cnst": [
        "Да можем сами да си избираме храната.",
        "Да не се сменят възпитателите толкова често.",
        "Искам някой да ме пита какво мисля, преди да решат.",
        "Казвам се Иван Петров и искам да се прибера у дома.",
        "Да има ключ за моето шкафче.",
    ],
    "institution": [
        "Да живея в истински дом.",
        "Искам да ми пишат на maria.ivanova@example.com, когато ме местят.",
        "Да не ни заключват вечер.",
    ],
}


def _latent_effect(placement: str, domain: str, wave_index: int) -> float:
    effect = PLANTED.get(placement, {}).get(domain, 0.0)
    return effect + wave_index * WAVE_CHANGE.get(placement, {}).get(domain, 0.0)


def _services(rng: np.random.Generator, n_services: int) -> pd.DataFrame:
    oblasts = load_oblasts()
    # Every oblast gets at least one service; the rest follow a rough population weight.
    weight = np.where(
        oblasts.index == "BG411", 6.0, np.where(oblasts.index.isin(["BG421", "BG331"]), 2.5, 1.0)
    )
    extra = rng.choice(
        oblasts.index, size=max(n_services - len(oblasts), 0), p=weight / weight.sum()
    )
    codes = np.concatenate([oblasts.index.to_numpy(), extra])[:n_services]
    types = rng.choice(list(SERVICE_MIX), size=len(codes), p=list(SERVICE_MIX.values()))
    ids = [
        f"{_SERVICE_PREFIX[t]}-{code}-{i:03d}"
        for i, (t, code) in enumerate(zip(types, codes, strict=True))
    ]
    return pd.DataFrame({"service_id": ids, "oblast": codes, "placement_type": types})


def make_survey(
    codebook: Codebook, n_services: int = 200, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """A synthetic survey in the layout of a real export (text codes, names, missing codes).

    Parameters
    ----------
    codebook : Codebook
        Any instrument; planted effects apply to the domain ids in :data:`PLANTED`.
    n_services : int
        Services surveyed; children per service follow :data:`CHILDREN_PER_SERVICE`.
    seed : int
        The random seed; the same seed gives the same file.

    Returns
    -------
    DataFrame
        One row per child and wave, with ``respondent_id, service_id, placement_type,
        oblast, age, sex, wave``, the item columns and ``voice``.
    """
    rng = np.random.default_rng(seed)
    services = _services(rng, n_services)
    oblast_names = load_oblasts()["name_bg"]
    service_u = rng.normal(0.0, SERVICE_SD, size=(len(services), len(codebook.domains)))

    rows = []
    for s, service in services.iterrows():
        for w, wave in enumerate(WAVES):
            n_children = max(2, rng.poisson(CHILDREN_PER_SERVICE[service.placement_type] - 1) + 1)
            for _ in range(n_children):
                rows.append((s, w, wave))
    frame = pd.DataFrame(rows, columns=["service_index", "wave_index", "wave"])
    n = len(frame)
    svc = services.loc[frame["service_index"]].reset_index(drop=True)
    ages = rng.integers(8, 18, size=n)

    items = _answers(
        codebook,
        rng,
        svc["placement_type"].to_numpy(),
        frame["wave_index"].to_numpy(),
        ages,
        service_u[frame["service_index"].to_numpy()],
    )
    label_bg = rng.random(n) < 0.25
    placement_text = np.where(
        label_bg, svc["placement_type"].map(_BG_LABELS), svc["placement_type"]
    )
    oblast_text = np.where(rng.random(n) < 0.7, svc["oblast"].map(oblast_names), svc["oblast"])
    survey = pd.DataFrame(
        {
            "respondent_id": [f"R{wave}-{i:05d}" for i, wave in enumerate(frame["wave"], start=1)],
            "service_id": svc["service_id"],
            "placement_type": placement_text,
            "oblast": oblast_text,
            "age": ages,
            "sex": rng.choice(["f", "m", "ж", "м", ""], size=n, p=[0.38, 0.38, 0.1, 0.1, 0.04]),
            "wave": frame["wave"],
        }
    )
    survey = pd.concat([survey, items], axis=1)
    survey["voice"] = _voices(rng, svc["placement_type"].to_numpy())
    return survey


def _answers(
    codebook: Codebook,
    rng: np.random.Generator,
    placement: np.ndarray,
    wave_index: np.ndarray,
    ages: np.ndarray,
    service_u: np.ndarray,
) -> pd.DataFrame:
    n = len(placement)
    columns: dict[str, np.ndarray] = {}
    skip_domain = rng.random((n, len(codebook.domains))) < 0.02
    for d, domain in enumerate(codebook.domains):
        effect = np.array(
            [_latent_effect(p, domain.id, w) for p, w in zip(placement, wave_index, strict=True)]
        )
        latent = BASE_SCORE + effect + AGE_SLOPE.get(domain.id, 0.0) * (ages - 12) + service_u[:, d]
        latent = latent + rng.normal(0.0, CHILD_SD, size=n)
        noise_sd = ITEM_SD_BY_DOMAIN.get(domain.id, ITEM_SD)
        for item in codebook.items_of(domain.id):
            scale = codebook.scales[item.scale]
            item_sd = noise_sd * rng.uniform(0.8, 1.25)  # items differ in how well they measure
            share = np.clip((latent + rng.normal(0.0, item_sd, size=n)) / 100.0, 0.0, 1.0)
            answer = np.rint(scale.min + share * (scale.max - scale.min))
            if item.reverse:
                answer = scale.min + scale.max - answer
            missing = rng.random(n) < 0.03
            codes = list(codebook.missing_codes) or [np.nan]
            answer = np.where(missing, rng.choice(codes, size=n).astype(float), answer)
            answer = np.where(missing & (rng.random(n) < 0.5), np.nan, answer)
            answer = np.where(skip_domain[:, d], np.nan, answer)
            columns[item.id] = answer
    return pd.DataFrame(columns).astype("Int64")


def _voices(rng: np.random.Generator, placement: np.ndarray) -> list[str]:
    answered = rng.random(len(placement)) < 0.35
    return [
        str(rng.choice(_VOICES[p])) if a else "" for p, a in zip(placement, answered, strict=True)
    ]


def make_broken_survey(codebook: Codebook, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Twenty rows, eight of them broken on purpose, one rule each.

    Used by the validation demo and the CLI smoke test. Returns the rows as text,
    plus a ``_planted_problem`` column describing what was broken (dropped before
    writing).
    """
    good = make_survey(codebook, n_services=30, seed=seed).head(20).astype("string").fillna("")
    good["_planted_problem"] = ""
    first_item = codebook.item_ids[0]
    top = codebook.scales[codebook.items[0].scale].max
    breaks = [
        (1, "placement_type", "сиропиталище", "unknown placement type"),
        (3, "age", "30", "age outside 5-25"),
        (5, first_item, "три", "text in an item column"),
        (7, first_item, str(top + 2), "answer outside the scale"),
        (9, "respondent_id", good.loc[8, "respondent_id"], "duplicate respondent_id"),
        (11, "oblast", "Атлантида", "unknown oblast"),
        (13, "sex", "x", "unknown sex code"),
        (15, "age", "", "age empty"),
    ]
    for index, column, value, problem in breaks:
        good.loc[index, column] = value
        good.loc[index, "_planted_problem"] = problem
    return good


def write_demo_data(
    directory: str | Path, codebook: Codebook, seed: int = DEFAULT_SEED
) -> dict[str, Path]:
    """Write the demo survey, the broken file, the placement episodes and the README.

    Returns the paths written, by name: ``survey`` (UTF-8 CSV), ``broken``
    (Windows-1251, semicolon-separated, with one line of the wrong length), the
    episode files of :func:`research_lib.demo.episodes.write_demo_episodes` and
    ``readme``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    survey = make_survey(codebook, seed=seed)
    paths = {"survey": directory / "survey.csv", "broken": directory / "survey_broken.csv"}
    survey.to_csv(paths["survey"], index=False, encoding="utf-8")

    broken = make_broken_survey(codebook, seed=seed).drop(columns="_planted_problem")
    lines = broken.to_csv(index=False, sep=";", lineterminator="\n").splitlines()
    lines[18] = lines[18] + ";extra"  # a line with one field too many (row 19)
    paths["broken"].write_bytes(("\n".join(lines) + "\n").encode("cp1251"))
    from research_lib.demo.episodes import readme_section, write_demo_episodes

    paths.update(write_demo_episodes(directory, seed=seed))
    paths["readme"] = _write_readme(directory, survey, codebook, seed)
    with paths["readme"].open("a", encoding="utf-8") as readme:
        readme.write("\n" + readme_section(seed=seed))
    return paths


def _write_readme(directory: Path, survey: pd.DataFrame, codebook: Codebook, seed: int) -> Path:
    domains = [d.id for d in codebook.domains]
    planted = pd.DataFrame(
        {p: [PLANTED.get(p, {}).get(d, 0.0) for d in domains] for p in PLACEMENT_TYPES},
        index=domains,
    )
    change = pd.DataFrame(
        {p: [WAVE_CHANGE.get(p, {}).get(d, 0.0) for d in domains] for p in PLACEMENT_TYPES},
        index=domains,
    )
    counts = (
        survey.assign(
            placement=survey["placement_type"].replace({v: k for k, v in _BG_LABELS.items()})
        )
        .groupby(["placement", "wave"])
        .size()
        .unstack(fill_value=0)
    )

    def table(frame: pd.DataFrame) -> str:
        head = "| " + " | ".join([frame.index.name or "", *map(str, frame.columns)]) + " |"
        rule = "|" + "---|" * (len(frame.columns) + 1)
        body = [
            "| " + " | ".join([str(i), *(f"{v:g}" for v in row)]) + " |"
            for i, row in frame.iterrows()
        ]
        return "\n".join([head, rule, *body])

    planted.index.name = change.index.name = "domain"
    counts.index.name = "placement"
    text = f"""# Demo data (synthetic — no real child)

Generated by `python -m research_lib demo-data` (seed {seed}, codebook `{codebook.instrument}`).
Regenerate any time; the files are git-ignored.

| file | what |
|---|---|
| survey.csv | {len(survey)} responses, {survey["service_id"].nunique()} services, all 28 oblasts, waves {", ".join(WAVES)}; UTF-8 CSV |
| survey_broken.csv | 20 rows, Windows-1251, semicolon-separated; 8 rows broken on purpose (unknown placement type, age 30, text in an item, answer off the scale, duplicate id, unknown oblast, unknown sex code, empty age) and row 19 has one field too many |

## How it was generated
Latent domain score = {BASE_SCORE:g} + planted effect + wave change + age slope × (age − 12) + service effect + child noise,
service SD {SERVICE_SD:g} and child SD {CHILD_SD:g} (ICC = {SERVICE_SD**2 / (SERVICE_SD**2 + CHILD_SD**2):.2f}); each item is the latent score plus
item noise (SD {ITEM_SD:g} × a per-item factor from 0.8 to 1.25) mapped onto its scale, rounded, turned for reverse
items. Planted weak reliability: the items of {", ".join(f"`{d}` (noise SD {v:g})" for d, v in ITEM_SD_BY_DOMAIN.items())}
are noisier, so Cronbach's α there should fall below 0.7 and the report should flag it. About 3% of answers are missing
(half as missing codes {list(codebook.missing_codes)}, half empty) and 2% of children skip a whole domain.
Placement types are written as codes or Bulgarian labels, oblasts as names or NUTS-3 codes, sex as f/m or ж/м —
as in real exports. Free-text `voice` answers are synthetic; a few contain a name, a phone number or an e-mail
on purpose, for the redaction demo.

## Planted differences vs foster care (domain score points, first wave)
The studies should find these (in expectation; the realised sample differs by chance and by the rounding of answers
onto the item scales, which shrinks differences a little).

{table(planted)}

## Planted change from wave {WAVES[0]} to wave {WAVES[1]} (points)

{table(change)}

Age slope per year above 12: {", ".join(f"{k} {v:+g}" for k, v in AGE_SLOPE.items())}.

## Responses by placement type and wave

{table(counts)}
"""
    path = directory / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
