"""The search form's parsing and its ADQL (no database: the translator checks the ADQL)."""

import pytest
from django import forms

from archive.tap.service import prepare_adql
from archive.web.forms import MAX_IDS, SearchForm, parse_dec, parse_ids, parse_ra
from archive.web.search import Cone, Search


@pytest.mark.parametrize(
    "text, degrees",
    [("187.5", 187.5), ("12 30 00", 187.5), ("12:30:00.0", 187.5), ("12h30m00s", 187.5),
     ("0 0 36", 0.15)],
)  # fmt: skip
def test_ra_in_degrees_or_hours(text, degrees):
    assert parse_ra(text) == pytest.approx(degrees)


@pytest.mark.parametrize(
    "text, degrees",
    [("-45.25", -45.25), ("-45 15 00", -45.25), ("+45:15:00", 45.25), ("-00 30 00", -0.5),
     ("45d15m00s", 45.25)],
)  # fmt: skip
def test_dec_in_degrees_or_sexagesimal(text, degrees):
    assert parse_dec(text) == pytest.approx(degrees)


@pytest.mark.parametrize("text", ["361", "24 00 01", "12 61 00", "north", "12h30"])
def test_bad_ra_is_refused_with_a_message(text):
    with pytest.raises(forms.ValidationError):
        parse_ra(text)


def test_bad_dec_is_refused():
    for text in ("91", "-90 30 00", "x"):
        with pytest.raises(forms.ValidationError):
            parse_dec(text)


def test_id_lists_keep_order_and_drop_repeats():
    assert parse_ids("3, 1\n2;3  1") == (3, 1, 2)
    with pytest.raises(forms.ValidationError, match="Not a source_id: 'abc'"):
        parse_ids("1 abc 2")
    with pytest.raises(forms.ValidationError, match="at most"):
        parse_ids(" ".join(str(i) for i in range(MAX_IDS + 1)))
    assert len(parse_ids(" ".join(str(i) for i in range(MAX_IDS)))) == MAX_IDS


def test_form_errors_are_on_their_fields():
    form = SearchForm({"teff_min": "7000", "teff_max": "5000", "logg_min": "abc", "ra": "10"})
    assert not form.is_valid()
    assert "below the minimum" in form.errors["teff_max"][0]
    assert "number" in form.errors["logg_min"][0]
    assert "A cone needs" in form.errors["dec"][0] and "A cone needs" in form.errors["radius"][0]
    form = SearchForm({"ra": "10", "dec": "0", "radius": "11", "radius_unit": "deg"})
    assert not form.is_valid() and "at most 10 deg" in form.errors["radius"][0]
    form = SearchForm({"flags": "digits"})
    assert not form.is_valid() and "clean_digits" in form.errors


def test_a_full_search_becomes_adql_the_translator_accepts():
    form = SearchForm(
        {"ids": "1 2 3", "ra": "01:00:00", "dec": "-30 00 00", "radius": "30",
         "radius_unit": "arcmin", "teff_min": "4000", "parallax_min": "1", "flags": "digits",
         "clean_digits": ["0", "7"], "columns": ["source_id", "teff", "parallax"],
         "sort": "parallax", "direction": "desc"}
    )  # fmt: skip
    assert form.is_valid(), form.errors
    s = form.search()
    assert s.cone == Cone(15.0, -30.0, 0.5)
    adql = s.adql(top=10, offset=20)
    assert "r.flag_boundary LIKE '0______0'" in adql and "JOIN" in adql
    assert adql.endswith("ORDER BY g.parallax DESC, r.source_id ASC\nOFFSET 20")
    sql = prepare_adql(adql).sql
    assert "q3c_radial_query" in sql.lower() and "LIMIT 10 OFFSET 20" in sql


def test_the_recommended_sample_and_no_join_when_gaia_columns_are_unused():
    s = Search(clean_digits=tuple(range(8)))
    assert "flag_boundary = '00000000'" in s.adql() and "JOIN" not in s.adql()
    sql = prepare_adql(s.count_adql(cap=99)).sql
    assert sql.startswith("SELECT COUNT(*)") and "LIMIT 100" in sql
