"""The quality-of-life study's report tables, built from published figures only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from research_lib.io.codebook import Codebook
from research_lib.render.labels import text
from research_lib.render.reporting import format_estimate, format_number, published_table
from research_lib.studies.qol.words import shown_rows

__all__ = ["comparison_table", "reliability_table", "weak_items"]


def comparison_table(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg"
) -> pd.DataFrame:
    """Differences from the reference group per domain (rows) and group (columns).

    Cells read "−5,8 * (−9,7 – −1,9)" where ``*`` marks an adjusted p < 0.05;
    suppressed figures show "—".
    """
    labels = {d: codebook.domain_label(d, language) for d in codebook.domain_ids}
    table = published_table(
        published,
        "difference_vs_reference",
        dimension="placement_type",
        measure_labels=labels,
        language=language,
        with_n=False,
    )
    p = shown_rows(published, "difference_p_adjusted")
    significant = {
        (labels.get(m, m), g)
        for m, g, v in zip(p["measure"], p["group"], p["value"], strict=True)
        if v < 0.05
    }
    groups = (
        published[published["table"] == "difference_vs_reference"]["group"]
        .drop_duplicates()
        .tolist()
    )
    columns = dict(zip(table.columns, groups, strict=False))
    for column, group in columns.items():
        table[column] = [
            cell.replace(" (", " * (", 1) if (measure, group) in significant else cell
            for measure, cell in zip(table.index, table[column], strict=True)
        ]
    return table


def reliability_table(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg"
) -> pd.DataFrame:
    """Cronbach's alpha and McDonald's omega with CIs per domain, from published figures."""
    rows = []
    for domain in codebook.domain_ids:
        row = {
            text("dimension.domain", language): codebook.domain_label(domain, language),
            text("qol.col_items", language): len(codebook.items_of(domain)),
        }
        for stat, column in (("alpha", "qol.col_alpha"), ("omega", "qol.col_omega")):
            fig = published[
                (published["table"] == f"reliability_{stat}") & (published["measure"] == domain)
            ]
            value = fig.iloc[0] if len(fig) else None
            row[text(column, language)] = (
                format_estimate(value["value"], value["ci_low"], value["ci_high"], language, 2)
                if value is not None
                else text("common.suppressed", language)
            )
            if stat == "alpha":
                flag = value is not None and pd.notna(value["value"]) and value["value"] < 0.7
                row[text("qol.col_flag", language)] = text(
                    "common.yes" if flag else "common.no", language
                )
        for table, column in (
            ("item_missing", "qol.col_missing"),
            ("floor_share", "qol.col_floor"),
            ("ceiling_share", "qol.col_ceiling"),
        ):
            fig = published[(published["table"] == table) & (published["measure"] == domain)]
            share = fig["value"].iloc[0] if len(fig) else np.nan
            row[text(column, language)] = format_number(
                100 * share if pd.notna(share) else share, language, 1
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index(text("dimension.domain", language))


def weak_items(
    published: pd.DataFrame, codebook: Codebook, language: str = "bg", threshold: float = 0.3
) -> tuple[str, pd.DataFrame]:
    """Items whose item-rest correlation is below ``threshold``: a sentence and a table."""
    rows = shown_rows(published, "item_rest")
    weak = rows[rows["value"] < threshold].sort_values("value")
    shown = format_number(threshold, language, 2)
    if weak.empty:
        return text("qol.weak_items_none", language, threshold=shown), pd.DataFrame()
    table = pd.DataFrame(
        {
            text("dimension.domain", language): [
                codebook.domain_label(d, language) for d in weak["group"]
            ],
            text("qol.col_item", language): [
                codebook.item_text(i, language) for i in weak["measure"]
            ],
            text("qol.col_item_rest", language): [
                format_number(v, language, 2) for v in weak["value"]
            ],
        }
    ).set_index(text("dimension.domain", language))
    return text("qol.weak_items_intro", language, threshold=shown), table
