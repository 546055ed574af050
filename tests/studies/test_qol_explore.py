"""Exploring a survey: one call per view (research_lib.studies.qol.explore)."""

from __future__ import annotations

import pytest

from research_lib.demo.survey import DEFAULT_SEED, write_demo_data
from research_lib.io.surveys import latest_wave
from research_lib.paths import SURVEYS_DIR
from research_lib.studies.qol.explore import (
    domain_summary,
    domains_overview,
    load_survey,
    plot_domain,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory, qol_codebook):
    survey = write_demo_data(tmp_path_factory.mktemp("explore"), qol_codebook, seed=DEFAULT_SEED)
    return load_survey(survey["survey"], SURVEYS_DIR / "qol-child-v1.yaml")


def test_load_survey_describes_the_latest_wave(data):
    assert data.wave == latest_wave(data.waves)


def test_domains_overview_is_every_domain_by_each_dimension(data, qol_codebook):
    table = domains_overview(data)
    assert list(table["by"].unique()) == ["all", "placement_type", "age_band", "sex"]
    assert set(table["outcome"]) == set(qol_codebook.domain_ids)
    # each block is the per-dimension view a researcher would get one by one
    by_type = table[table["by"] == "placement_type"].reset_index(drop=True)
    one = domain_summary(data, qol_codebook.domain_ids[0], by="placement_type")
    one = one[one["by"] == "placement_type"].reset_index(drop=True)
    first = by_type[by_type["outcome"] == qol_codebook.domain_ids[0]].reset_index(drop=True)
    assert first["group"].tolist() == one["group"].tolist()
    assert first["mean"].tolist() == pytest.approx(one["mean"].tolist())
    assert first["n"].tolist() == one["n"].tolist()
    # services are clusters, as in the study
    assert {"n_clusters", "deff"} <= set(table.columns)


def test_domains_overview_checks_dimensions(data, qol_codebook):
    with pytest.raises(ValueError, match="dimensions"):
        domains_overview(data, dimensions=["shoe_size"])
    table = domains_overview(data, domains=[qol_codebook.domain_ids[0]], dimensions=["wave"])
    assert set(table["outcome"]) == {qol_codebook.domain_ids[0]}
    assert set(table["by"]) == {"all", "wave"}


def test_plot_domain_colours_placement_types_as_the_reports(data, qol_codebook):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from research_lib.render.reporting import PLACEMENT_COLOURS, placement_palette

    palette = placement_palette("en")
    assert set(palette.values()) == set(PLACEMENT_COLOURS.values())
    ax = plot_domain(data, qol_codebook.domain_ids[0], by="placement_type", language="en")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and set(labels) <= set(palette)
    drawn = {to_hex(c.get_facecolor()[0]) for c in ax.collections if len(c.get_offsets())}
    assert drawn <= {to_hex(c) for c in palette.values()}
    plt.close(ax.figure)
