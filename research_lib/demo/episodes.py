"""Synthetic placement episodes with a planted, documented reform effect (demo only).

Nothing here is real. The demo episodes let the placement analyses show that they
find what was planted: a drop in entries into institutions at a reform date and a
steeper decline after it, growing foster care (lagging in three named oblasts),
children aged 0-3 no longer entering institutions by 2021, autumn seasonality and
realistic times in care. Generation is deterministic for a given seed.

The model
---------
First placements of children arrive per month *t*, oblast *o* and placement type *p*
with expected count proportional to::

    w[o] * base[p] * exp(pre[p] * years + post * (level[p, o] + slope[p, o] * years_after))
         * exp(SEASONAL_AMPLITUDE * cos(2 pi (month - SEASONAL_PEAK_MONTH) / 12))

``post`` = 1 from :data:`REFORM_DATE` on; the ``n_children`` first placements are
spread over the cells by one multinomial draw. Each episode lasts a log-normal time
(median :data:`MEDIAN_MONTHS` by type), ends at the child's 18th birthday when
that comes first (``aged_out``), and is ongoing (no end date) when it has not
ended by :data:`CENSOR_DATE`. Exits draw a reason by placement type and age; an
exit to ``foster``, ``kinship`` or ``cnst`` is a transfer that starts the child's
next episode on the same day or up to 30 days later (never overlapping).
:data:`PLANTED_PLACEMENTS` holds every planted number; :func:`readme_section`
writes the documentation from it, so the README cannot drift from the data.

Examples
--------
>>> episodes = make_episodes(seed=1, n_children=500)
>>> sorted(episodes["placement_type"].unique())
['cnst', 'family', 'foster', 'institution', 'kinship']
>>> bool(episodes["end_date"].isna().any())
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from research_lib.io.oblasts import load_oblasts
from research_lib.io.vocab import PLACEMENT_TYPES

__all__ = [
    "DEFAULT_SEED",
    "REFORM_DATE",
    "START_DATE",
    "CENSOR_DATE",
    "INSTITUTION_LEVEL_RR",
    "INSTITUTION_SLOPE_RR",
    "FOSTER_LEVEL_RR",
    "FOSTER_SLOPE_RR",
    "LAGGING_OBLASTS",
    "INSTITUTION_0_3_SHARE",
    "SEASONAL_AMPLITUDE",
    "SEASONAL_PEAK_MONTH",
    "MEDIAN_MONTHS",
    "PLANTED_PLACEMENTS",
    "make_episodes",
    "make_population",
    "write_demo_episodes",
    "readme_section",
]

DEFAULT_SEED = 20251124
#: The planted reform: 1 January 2016, when the updated action plan (2016-2020) of
#: the national strategy "Vision for the deinstitutionalisation of children in the
#: Republic of Bulgaria" took over from the first one. Chosen for the demo; the
#: demo data say nothing about what the real reform did.
REFORM_DATE = pd.Timestamp("2016-01-01")
#: First possible start date and the data cut (episodes not ended by then are ongoing).
START_DATE = pd.Timestamp("2010-01-01")
CENSOR_DATE = pd.Timestamp("2025-12-31")

#: Rate ratio of monthly first entries into institutions at the reform (level change).
INSTITUTION_LEVEL_RR = 0.55
#: Extra yearly rate ratio of institution entries after the reform (slope change),
#: on top of the pre-reform trend.
INSTITUTION_SLOPE_RR = 0.88
#: Rate ratio of foster entries at the reform, and extra yearly ratio after it,
#: in an oblast of average response (each oblast's response varies, see below).
FOSTER_LEVEL_RR = 1.25
FOSTER_SLOPE_RR = 1.12
#: Yearly rate ratios before the reform (all types), i.e. the pre-existing trends.
PRE_TREND_RR: dict[str, float] = {
    "family": 1.00,
    "kinship": 1.00,
    "foster": 1.04,
    "cnst": 1.10,
    "institution": 0.97,
}
#: Rate ratio of ЦНСТ (cnst) entries at the reform (new family-type centres open).
CNST_LEVEL_RR = 1.15
#: Oblasts where foster care does not grow after the reform (no level or slope change).
LAGGING_OBLASTS: tuple[str, ...] = ("BG313", "BG324", "BG342")
#: SD of each other oblast's multiplier on the foster reform effects (mean 1, floored at 0.3).
OBLAST_FOSTER_SD = 0.3
#: Share of institution entries aged 0-3: before the reform, at 2021-01-01 (reached
#: linearly from the reform date) and after 2021. Other types keep their age mix.
INSTITUTION_0_3_SHARE: dict[str, float] = {"before": 0.45, "2021": 0.02, "after": 0.01}
#: Seasonality of entries: amplitude on the log scale and the month of the peak (October).
SEASONAL_AMPLITUDE = 0.1
SEASONAL_PEAK_MONTH = 10
#: Median time in care (months) by placement type; log-normal with SD DURATION_SIGMA.
MEDIAN_MONTHS: dict[str, float] = {
    "institution": 30,
    "cnst": 36,
    "foster": 24,
    "kinship": 30,
    "family": 12,
}
DURATION_SIGMA = 0.9
#: Relative frequency of first placements by type in 2010.
BASE_MIX: dict[str, float] = {
    "family": 0.10,
    "kinship": 0.25,
    "foster": 0.08,
    "cnst": 0.12,
    "institution": 0.45,
}
#: Age mix at first entry (bands 0-3, 4-6, 7-17) by type; institution 0-3 see above.
AGE_MIX: dict[str, tuple[float, float, float]] = {
    "family": (0.30, 0.30, 0.40),
    "kinship": (0.25, 0.25, 0.50),
    "foster": (0.40, 0.25, 0.35),
    "cnst": (0.05, 0.20, 0.75),
    "institution": (0.45, 0.15, 0.40),
}
_BAND_YEARS = ((0.0, 4.0), (4.0, 7.0), (7.0, 18.0))
#: Exit reasons drawn for episodes that end before the 18th birthday, by type and
#: age at start (young = 0-3); aged_out comes from the 18th birthday itself.
EXIT_MIX_REASONS: tuple[str, ...] = ("reunified", "adopted", "foster", "kinship", "cnst", "other")
EXIT_MIX: dict[str, dict[str, tuple[float, ...]]] = {
    "institution": {
        "young": (0.30, 0.30, 0.20, 0.08, 0.05, 0.07),
        "older": (0.40, 0.04, 0.12, 0.10, 0.24, 0.10),
    },
    "foster": {
        "young": (0.35, 0.30, 0.10, 0.10, 0.05, 0.10),
        "older": (0.45, 0.05, 0.15, 0.12, 0.10, 0.13),
    },
    "cnst": {
        "young": (0.35, 0.20, 0.20, 0.10, 0.05, 0.10),
        "older": (0.40, 0.03, 0.15, 0.10, 0.12, 0.20),
    },
    "kinship": {
        "young": (0.45, 0.15, 0.12, 0.08, 0.05, 0.15),
        "older": (0.45, 0.05, 0.12, 0.10, 0.08, 0.20),
    },
    "family": {
        "young": (0.60, 0.05, 0.10, 0.10, 0.03, 0.12),
        "older": (0.60, 0.02, 0.10, 0.10, 0.05, 0.13),
    },
}
_MAX_EPISODES = 5
_DAYS_PER_MONTH = 365.25 / 12

#: Every planted number in one place (the README section is written from it).
PLANTED_PLACEMENTS: dict[str, object] = {
    "reform_date": REFORM_DATE.date().isoformat(),
    "institution_level_rr": INSTITUTION_LEVEL_RR,
    "institution_slope_rr_per_year": INSTITUTION_SLOPE_RR,
    "foster_level_rr": FOSTER_LEVEL_RR,
    "foster_slope_rr_per_year": FOSTER_SLOPE_RR,
    "cnst_level_rr": CNST_LEVEL_RR,
    "pre_trend_rr_per_year": PRE_TREND_RR,
    "lagging_oblasts": LAGGING_OBLASTS,
    "oblast_foster_sd": OBLAST_FOSTER_SD,
    "institution_0_3_share": INSTITUTION_0_3_SHARE,
    "seasonal_amplitude": SEASONAL_AMPLITUDE,
    "seasonal_peak_month": SEASONAL_PEAK_MONTH,
    "median_months_in_care": MEDIAN_MONTHS,
    "duration_sigma": DURATION_SIGMA,
    "censor_date": CENSOR_DATE.date().isoformat(),
}

#: How values are written in the demo file: mostly codes, Bulgarian labels sometimes.
_BG_TYPES = {
    "family": "семейство",
    "kinship": "при близки и роднини",
    "foster": "приемна грижа",
    "cnst": "ЦНСТ",
    "institution": "институция",
}
_BG_EXITS = {
    "reunified": "реинтеграция",
    "adopted": "осиновяване",
    "foster": "приемна грижа",
    "kinship": "при близки и роднини",
    "cnst": "ЦНСТ",
    "aged_out": "навършване на пълнолетие",
    "other": "друго",
}


# ----------------------------------------------------------------------------- weights


def _oblast_weights(rng: np.random.Generator) -> pd.Series:
    """Synthetic relative size of each oblast's child population (not real figures)."""
    codes = load_oblasts().index
    big = {"BG411": 5.0, "BG421": 2.5, "BG331": 2.3, "BG341": 2.0, "BG344": 1.5, "BG413": 1.5}
    weight = np.array([big.get(c, 1.0) for c in codes]) * rng.lognormal(0.0, 0.2, len(codes))
    return pd.Series(weight / weight.sum(), index=codes, name="weight")


def _foster_response(rng: np.random.Generator, codes: pd.Index) -> pd.Series:
    """Each oblast's multiplier on the foster reform effects; 0 for the lagging oblasts."""
    response = np.maximum(rng.normal(1.0, OBLAST_FOSTER_SD, len(codes)), 0.3)
    response = np.where(codes.isin(LAGGING_OBLASTS), 0.0, response)
    return pd.Series(response, index=codes, name="foster_response")


def _expected_entries(
    weights: pd.Series, response: pd.Series
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Relative expected first entries, shape (months, oblasts, types)."""
    months = pd.date_range(START_DATE, CENSOR_DATE, freq="MS")
    years = (np.arange(len(months)) / 12.0)[:, None, None]
    post = (months >= REFORM_DATE).astype("float64")[:, None, None]
    after = np.maximum((months - REFORM_DATE).days.to_numpy() / 365.25, 0.0)[:, None, None]
    season = SEASONAL_AMPLITUDE * np.cos(
        2 * np.pi * (months.month.to_numpy() - SEASONAL_PEAK_MONTH) / 12
    )
    n_oblasts = len(weights)
    log_rate = np.zeros((len(months), n_oblasts, len(PLACEMENT_TYPES)))
    for j, kind in enumerate(PLACEMENT_TYPES):
        level = np.zeros(n_oblasts)
        slope = np.zeros(n_oblasts)
        if kind == "institution":
            level += np.log(INSTITUTION_LEVEL_RR)
            slope += np.log(INSTITUTION_SLOPE_RR)
        elif kind == "foster":
            level = np.log(FOSTER_LEVEL_RR) * response.to_numpy()
            slope = np.log(FOSTER_SLOPE_RR) * response.to_numpy()
        elif kind == "cnst":
            level += np.log(CNST_LEVEL_RR)
        log_rate[:, :, j] = (
            np.log(BASE_MIX[kind])
            + np.log(PRE_TREND_RR[kind]) * years[:, :, 0]
            + post[:, :, 0] * (level[None, :] + slope[None, :] * after[:, :, 0])
        )
    log_rate += season[:, None, None] + np.log(weights.to_numpy())[None, :, None]
    return np.exp(log_rate), months


# ----------------------------------------------------------------------------- episodes


def _institution_young_share(start: pd.Series) -> np.ndarray:
    """Planted share of institution entries aged 0-3 on each start date."""
    end = pd.Timestamp("2021-01-01")
    before, at_2021, after = (INSTITUTION_0_3_SHARE[k] for k in ("before", "2021", "after"))
    progress = ((start - REFORM_DATE).dt.days / (end - REFORM_DATE).days).clip(0, 1).to_numpy()
    share = before + (at_2021 - before) * progress
    return np.where(start >= end, after, share)


def _ages_at_entry(rng: np.random.Generator, kinds: np.ndarray, start: pd.Series) -> np.ndarray:
    """Age in years (fractional) at first entry, drawn from the type's age mix."""
    n = len(kinds)
    mix = np.array([AGE_MIX[k] for k in kinds])
    inst = kinds == "institution"
    young = _institution_young_share(start[inst])
    rest = mix[inst, 1:] / mix[inst, 1:].sum(axis=1, keepdims=True)
    mix[inst] = np.column_stack([young, rest * (1 - young)[:, None]])
    band = (rng.random(n)[:, None] > np.cumsum(mix, axis=1)[:, :-1]).sum(axis=1)
    low = np.array([b[0] for b in _BAND_YEARS])[band]
    high = np.array([b[1] for b in _BAND_YEARS])[band]
    return low + rng.random(n) * (high - low)


def _eighteenth_birthday(birth: pd.Series) -> pd.Series:
    """The day a child turns 18 (29 February -> 1 March)."""
    parts = pd.DataFrame({"year": birth.dt.year + 18, "month": birth.dt.month, "day": birth.dt.day})
    day = pd.to_datetime(parts, errors="coerce")
    return day.fillna(birth + pd.Timedelta(days=round(18 * 365.25)))


def _exit_reasons(rng: np.random.Generator, kinds: np.ndarray, young: np.ndarray) -> np.ndarray:
    """An exit reason per episode, by type and age at start."""
    probs = np.array(
        [EXIT_MIX[k]["young" if y else "older"] for k, y in zip(kinds, young, strict=True)]
    )
    pick = (rng.random(len(kinds))[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
    return np.asarray(EXIT_MIX_REASONS, dtype=object)[pick]


def _episode_round(rng: np.random.Generator, episodes: pd.DataFrame) -> pd.DataFrame:
    """Durations, end dates and exit reasons for new episodes (start, birth, type given)."""
    kinds = episodes["placement_type"].to_numpy(dtype=object)
    median = np.array([MEDIAN_MONTHS[k] for k in kinds])
    days = np.maximum(
        np.rint(median * _DAYS_PER_MONTH * np.exp(rng.normal(0, DURATION_SIGMA, len(kinds)))), 1
    )
    planned = episodes["start_date"] + pd.to_timedelta(days, unit="D")
    adult = _eighteenth_birthday(episodes["birth_date"])
    ages_out = adult < planned
    end = planned.where(~ages_out, adult)
    age = (episodes["start_date"] - episodes["birth_date"]).dt.days / 365.25
    reason = _exit_reasons(rng, kinds, (age < 4).to_numpy())
    reason = np.where(ages_out, "aged_out", reason)
    ongoing = (end > CENSOR_DATE).to_numpy()
    return episodes.assign(
        end_date=end.where(~ongoing),
        exit_reason=pd.Series(reason, index=episodes.index).where(~ongoing),
        _adult=adult,
    )


def _next_episodes(
    rng: np.random.Generator, done: pd.DataFrame, weights: pd.Series
) -> pd.DataFrame:
    """Transfers: an exit to foster, kinship or ЦНСТ starts the child's next episode."""
    moving = done[done["exit_reason"].isin(["foster", "kinship", "cnst"])]
    gap = np.where(rng.random(len(moving)) < 0.7, 0, rng.integers(1, 31, len(moving)))
    start = moving["end_date"] + pd.to_timedelta(gap, unit="D")
    keep = ((start <= CENSOR_DATE) & (start < moving["_adult"])).to_numpy()
    moved = rng.random(len(moving)) < 0.1
    oblast = np.where(
        moved,
        rng.choice(weights.index.to_numpy(), len(moving), p=weights.to_numpy()),
        moving["oblast"],
    )
    nxt = pd.DataFrame(
        {
            "child_id": moving["child_id"].to_numpy(),
            "oblast": oblast,
            "placement_type": moving["exit_reason"].to_numpy(),
            "start_date": start.to_numpy(),
            "birth_date": moving["birth_date"].to_numpy(),
            "episode": moving["episode"].to_numpy() + 1,
        }
    )
    return nxt[keep].reset_index(drop=True)


def make_episodes(seed: int = DEFAULT_SEED, n_children: int = 24_000) -> pd.DataFrame:
    """Synthetic placement episodes 2010-2025 with the planted effects of :data:`PLANTED_PLACEMENTS`.

    Parameters
    ----------
    seed : int
        The random seed; the same seed gives the same episodes.
    n_children : int, default 24,000
        Children placed (first episodes); transfers bring the episodes to about
        1.25 per child (about 30,000 for the default).

    Returns
    -------
    DataFrame
        One row per episode, sorted by child and start: ``child_id, oblast`` (NUTS-3),
        ``placement_type, start_date, end_date`` (NaT = ongoing at
        :data:`CENSOR_DATE`), ``birth_date, exit_reason`` (NaN while ongoing).

    Notes
    -----
    Synthetic: the oblast sizes, rates and effects are invented for the demo.
    The episodes of a child never overlap (a transfer starts the next episode on
    the day the previous one ends, or later), so :func:`research_lib.io.episodes.load_episodes`
    accepts all of them.

    Examples
    --------
    >>> make_episodes(seed=3, n_children=200).columns.tolist()
    ['child_id', 'oblast', 'placement_type', 'start_date', 'end_date', 'birth_date', 'exit_reason']
    """
    rng = np.random.default_rng(seed)
    weights = _oblast_weights(rng)
    response = _foster_response(rng, weights.index)
    expected, months = _expected_entries(weights, response)
    counts = rng.multinomial(n_children, (expected / expected.sum()).ravel()).reshape(
        expected.shape
    )
    month_i, oblast_i, type_i = np.nonzero(counts)
    repeat = counts[month_i, oblast_i, type_i]
    month_start = months[np.repeat(month_i, repeat)]
    offset = rng.random(n_children) * month_start.days_in_month.to_numpy()
    start = pd.Series(month_start + pd.to_timedelta(np.floor(offset), unit="D"))
    kinds = np.asarray(PLACEMENT_TYPES, dtype=object)[np.repeat(type_i, repeat)]
    ages = _ages_at_entry(rng, kinds, start)
    birth = start - pd.to_timedelta(np.floor(ages * 365.25), unit="D")
    order = rng.permutation(n_children)  # child ids not in time order
    current = pd.DataFrame(
        {
            "child_id": [f"CH{i:06d}" for i in order + 1],
            "oblast": weights.index.to_numpy()[np.repeat(oblast_i, repeat)],
            "placement_type": kinds,
            "start_date": start,
            "birth_date": birth,
            "episode": 1,
        }
    )
    rounds = []
    while len(current):
        done = _episode_round(rng, current)
        rounds.append(done)
        current = _next_episodes(rng, done[done["episode"] < _MAX_EPISODES], weights)
    episodes = pd.concat(rounds, ignore_index=True)
    episodes = episodes.sort_values(["child_id", "start_date", "episode"], kind="stable")
    columns = [
        "child_id",
        "oblast",
        "placement_type",
        "start_date",
        "end_date",
        "birth_date",
        "exit_reason",
    ]
    return episodes[columns].reset_index(drop=True)


def make_population(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """A SYNTHETIC child-population table by oblast, year 2010-2025 and age band (demo only).

    Parameters
    ----------
    seed : int
        Same seed as :func:`make_episodes` gives the same oblast sizes.

    Returns
    -------
    DataFrame
        ``oblast, year, age_band`` (0-3, 4-6, 7-17), ``population`` and
        ``source_title`` saying the figures are synthetic.

    Notes
    -----
    Invented numbers: about 1.2 million children in 2010, 1.2% fewer each year,
    split by the demo's synthetic oblast sizes. Never use them as real denominators.

    Examples
    --------
    >>> population = make_population(seed=1)
    >>> len(population), population["source_title"].str.startswith("SYNTHETIC").all()
    (1344, np.True_)
    """
    rng = np.random.default_rng(seed)
    weights = _oblast_weights(rng)  # first draw of the same generator as make_episodes
    years = np.arange(START_DATE.year, CENSOR_DATE.year + 1)
    bands = {"0-3": 4 / 18, "4-6": 3 / 18, "7-17": 11 / 18}
    rows = []
    for year in years:
        national = 1_200_000 * 0.988 ** (year - years[0])
        for code, weight in weights.items():
            for band, share in bands.items():
                noise = 1 + rng.normal(0, 0.01)
                rows.append((code, int(year), band, int(round(national * weight * share * noise))))
    population = pd.DataFrame(rows, columns=["oblast", "year", "age_band", "population"])
    population["source_title"] = "SYNTHETIC demo population - invented, not NSI figures; demo only"
    return population


def _as_written(episodes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The episodes as a real export might write them (labels, names, two date formats)."""
    names = load_oblasts()["name_bg"]
    bg_dates_oblasts = rng.choice(names.index.to_numpy(), 8, replace=False)
    bg_dates = episodes["oblast"].isin(bg_dates_oblasts)

    def dates(column: str) -> pd.Series:
        iso = episodes[column].dt.strftime("%Y-%m-%d")
        return iso.where(~bg_dates, episodes[column].dt.strftime("%d.%m.%Y")).fillna("")

    n = len(episodes)
    label = rng.random(n) < 0.2
    exit_label = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "child_id": episodes["child_id"],
            "oblast": np.where(
                rng.random(n) < 0.7, episodes["oblast"].map(names), episodes["oblast"]
            ),
            "placement_type": np.where(
                label, episodes["placement_type"].map(_BG_TYPES), episodes["placement_type"]
            ),
            "start_date": dates("start_date"),
            "end_date": dates("end_date"),
            "birth_date": dates("birth_date"),
            "exit_reason": np.where(
                exit_label, episodes["exit_reason"].map(_BG_EXITS), episodes["exit_reason"]
            ),
        }
    ).fillna({"exit_reason": ""})


def write_demo_episodes(directory: str | Path, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the demo episodes and the synthetic population into ``directory``.

    Parameters
    ----------
    directory : str or Path
        Created when missing (e.g. ``data/demo``).
    seed : int
        The random seed.

    Returns
    -------
    dict of str to Path
        ``episodes`` (``episodes.csv``, UTF-8; oblasts as names or codes, types and
        exit reasons as codes or Bulgarian labels, dates ISO or dd.mm.yyyy for 8
        oblasts, as if merged from regional exports) and ``population``
        (``population_synthetic.csv``).

    Notes
    -----
    The README text is :func:`readme_section`; this function does not write
    ``README.md``, which belongs to the caller.

    Examples
    --------
    >>> paths = write_demo_episodes("data/demo")  # doctest: +SKIP
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "episodes": directory / "episodes.csv",
        "population": directory / "population_synthetic.csv",
    }
    episodes = make_episodes(seed=seed)
    written = _as_written(episodes, np.random.default_rng([seed, 1]))
    written.to_csv(paths["episodes"], index=False, encoding="utf-8")
    make_population(seed=seed).to_csv(paths["population"], index=False, encoding="utf-8")
    return paths


def _markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join([str(frame.index.name or ""), *map(str, frame.columns)]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    body = ["| " + " | ".join([str(i), *map(str, row)]) + " |" for i, row in frame.iterrows()]
    return "\n".join([head, rule, *body])


def readme_section(episodes: pd.DataFrame | None = None, seed: int = DEFAULT_SEED) -> str:
    """Markdown describing the demo episodes and the planted effects, for ``data/demo/README.md``.

    Parameters
    ----------
    episodes : DataFrame, optional
        The output of :func:`make_episodes` (made with ``seed`` when not given).
    seed : int
        The seed the files were written with.

    Returns
    -------
    str
        A section starting with ``## Placement episodes``.

    Examples
    --------
    >>> readme_section(make_episodes(seed=2, n_children=300), seed=2).splitlines()[0]
    '## Placement episodes (synthetic — no real child)'
    """
    episodes = make_episodes(seed=seed) if episodes is None else episodes
    names = load_oblasts()["name_bg"]
    yearly = (
        episodes.assign(year=episodes["start_date"].dt.year)
        .groupby(["year", "placement_type"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(PLACEMENT_TYPES), fill_value=0)
    )
    yearly.index.name = "year"
    lagging = ", ".join(f"{code} {names[code]}" for code in LAGGING_OBLASTS)
    medians = ", ".join(f"{k} {v:g}" for k, v in MEDIAN_MONTHS.items())
    shares = INSTITUTION_0_3_SHARE
    pre = ", ".join(f"{k} {v:g}" for k, v in PRE_TREND_RR.items())
    n_ongoing = int(episodes["end_date"].isna().sum())
    return f"""## Placement episodes (synthetic — no real child)

Generated by `research_lib.demo.episodes.write_demo_episodes` (seed {seed}).

| file | what |
|---|---|
| episodes.csv | {len(episodes)} placement episodes of {episodes["child_id"].nunique()} children, {START_DATE.year}-{CENSOR_DATE.year}, all 28 oblasts and placement types; {n_ongoing} ongoing at {CENSOR_DATE.date()} (no end date). Oblasts as names or codes, types and exit reasons as codes or Bulgarian labels, dates ISO or dd.mm.yyyy (8 oblasts) |
| population_synthetic.csv | SYNTHETIC child population by oblast, year and age band (0-3, 4-6, 7-17) — invented for the demo rates, not NSI figures |

### Planted effects (`PLANTED_PLACEMENTS`)
Reform date **{REFORM_DATE.date()}** (the start of the updated 2016-2020 action plan of the national
deinstitutionalisation strategy; chosen for the demo only). First entries per month:

| effect | planted |
|---|---|
| institution entries, level change at the reform | rate ratio {INSTITUTION_LEVEL_RR:g} |
| institution entries, slope change after the reform | rate ratio {INSTITUTION_SLOPE_RR:g} per year |
| foster entries, level / slope change (average oblast) | rate ratio {FOSTER_LEVEL_RR:g} / {FOSTER_SLOPE_RR:g} per year; each oblast's response × N(1, {OBLAST_FOSTER_SD:g}²), at least 0.3 |
| lagging oblasts (no foster growth after the reform) | {lagging} |
| ЦНСТ (cnst) entries, level change | rate ratio {CNST_LEVEL_RR:g} |
| pre-reform trends (rate ratio per year) | {pre} |
| share of institution entries aged 0-3 | {shares["before"]:g} before the reform, falling linearly to {shares["2021"]:g} on 2021-01-01, {shares["after"]:g} after |
| seasonality | log amplitude {SEASONAL_AMPLITUDE:g}, peak in month {SEASONAL_PEAK_MONTH} (autumn) |
| median time in care (months; log-normal, SD {DURATION_SIGMA:g}) | {medians} |

Exits: aged_out at the 18th birthday; otherwise reunified, adopted (mostly children placed at 0-3),
other, or a transfer to foster / kinship / cnst that starts the child's next episode on the same day
or up to 30 days later (episodes of a child never overlap; at most {_MAX_EPISODES} per child).

### First entries by year and placement type (all episodes)

{_markdown(yearly)}
"""
