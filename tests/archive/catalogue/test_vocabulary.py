"""One vocabulary (issue 27): a label, or a flag_boundary digit, is one declaration.

A sixth label added to a test declaration (and a ninth digit on its own) turns up in the model
fields, the published columns and TAP_SCHEMA, the search form and the star page, with nothing
else written for it.
"""

from dataclasses import replace

import pytest
from django.db import models
from django.template.loader import render_to_string
from django.test import RequestFactory

from archive.catalogue.label_fields import (
    apogee_label_fields,
    cnn_label_fields,
    columns,
    training_star_fields,
)
from archive.catalogue.models import CnnLabel
from archive.catalogue.vo import vo
from archive.metadata.ddl import tap_schema_rows
from archive.metadata.published import rvs_cnn
from archive.metadata.registry import Registry, Schema
from archive.web.forms import SearchForm
from archive.web.star_views import star_context
from labeling.flags import FLAG_DIGITS, FLAG_LENGTH, FlagDigit, flag_digits
from labeling.labels import LABEL_SPECS, Label

VMIC = Label(
    name="vmic", display="v_mic", symbol="vmic", vounit="km.s**-1",
    ucd="phys.veloc.microTurb", apogee_column="VMICRO", quantity="microturbulent velocity",
    decimals=2, plausible=(0.0, 5.0),
)  # fmt: skip
SIX = (*LABEL_SPECS, VMIC)
RUWE = FlagDigit("ruwe", "RUWE", "RUWE", "RUWE")
#: a sixth label brings its own digit; a ninth digit may also come alone
CASES = {
    "sixth label": (SIX, flag_digits(SIX), "vmic"),
    "ninth digit": (LABEL_SPECS, (*FLAG_DIGITS[:-1], RUWE, FLAG_DIGITS[-1]), "ruwe"),
}


def catalogue_model(labels, digits, name: str) -> type[models.Model]:
    """CnnLabel's published columns built from the declarations (an abstract model: no table)."""
    source = vo(
        models.BigIntegerField(db_column="source_id"), ucd="meta.id;meta.main", description="id"
    )
    return columns(name, {"source": source, **cnn_label_fields(labels, digits)})


@pytest.mark.parametrize("case", CASES)
def test_the_model_fields_derive_from_the_declaration(case):
    labels, digits, key = CASES[case]
    model = catalogue_model(labels, digits, f"Fields{len(labels)}{len(digits)}")
    flag = model._meta.get_field("flag_boundary")
    assert flag.max_length == len(digits) == FLAG_LENGTH + 1
    assert key in flag.vo.description.lower() and flag.vo.description.startswith("9 digits")
    if case == "sixth label":
        for name in ("vmic", "e_vmic", "sigma_vmic"):
            f = model._meta.get_field(name)
            assert f.vo.unit == "km.s**-1" and f.vo.ucd.endswith("phys.veloc.microTurb")
        assert "extrapolation" in model._meta.get_field("vmic").vo.description
        assert {"vmic", "vmic_err"} <= set(apogee_label_fields(SIX))
        assert {"apogee_vmic", "apogee_e_vmic"} <= set(training_star_fields(SIX))
    # the catalogue's own model is the same derivation over the real declarations
    assert [f.name for f in CnnLabel._meta.concrete_fields if f.name in cnn_label_fields()] == list(
        cnn_label_fields()
    )


@pytest.mark.parametrize("case", CASES)
def test_tap_schema_publishes_the_new_column(case, settings):
    labels, digits, key = CASES[case]
    model = catalogue_model(labels, digits, f"Published{len(labels)}{len(digits)}")
    table = rvs_cnn("s", model, labels)
    registry = Registry(schemas=(Schema(name="s", description="test", tables=(table,)),))
    rows = {r[1]: r for r in tap_schema_rows(registry)["columns"]}
    flag = rows["flag_boundary"]
    assert flag[3] == "9" and key.upper() in flag[6].upper()
    if case == "sixth label":
        assert {"vmic", "e_vmic", "sigma_vmic"} <= set(rows)
        assert rows["vmic"][2] == "float" and rows["vmic"][8] == "km.s**-1"
        assert "extrapolation" in rows["vmic"][6] and "vmic" in table.description


@pytest.mark.parametrize("case", CASES)
def test_the_search_form_offers_it(case):
    labels, digits, key = CASES[case]
    form = SearchForm(labels=labels, digits=digits)
    assert len(form.fields["clean_digits"].choices) == 9
    assert form.fields["clean_digits"].choices[-2 if key == "ruwe" else 5][1] in ("RUWE", "v_mic")
    if case == "sixth label":
        assert {"vmic_min", "vmic_max", "sigma_vmic_min"} <= set(form.fields)
        assert form.fields["vmic_min"].label == "v_mic (km s⁻¹) min"
        assert ("e_vmic", "e v_mic") in form.fields["columns"].choices
        bad = SearchForm({"vmic_min": "9"}, labels=labels, digits=digits)
        assert not bad.is_valid() and "between 0 and 5" in str(bad.errors["vmic_min"])


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_the_star_page_shows_it(case):
    labels, digits, key = CASES[case]
    at = [d.key for d in digits].index(key)
    flag = "".join("1" if i == at else "0" for i in range(len(digits)))
    published = {x.name: 1.0 + i for i, x in enumerate(labels)}
    published |= {f"e_{x.name}": 0.0123 for x in labels} | {
        f"sigma_{x.name}": 0.0456 for x in labels
    }
    published |= {"flag_boundary": flag, "model_version": "v-six"}
    data = {
        "gaia": {"ra": 1.0, "dec": 2.0, "phot_g_mean_mag": None, "parallax": None,
                 "rvs_spec_sig_to_noise": None},
        "labels": published,
        "versions": [{**published, "is_published": True}],
        "training": [],
        "has_spectrum": False,
        "xp": None,
    }  # fmt: skip
    request = RequestFactory().get("/star/1/")
    page = render_to_string("web/star.html", star_context(1, data, labels, digits), request)
    assert page.count("<li data-digit=") == 9
    if case == "sixth label":
        assert '<tr data-label="vmic" class="extrapolated"><td>v_mic' in page
        assert ">6.00</td>" in page and ">0.012</td>" in page and ">0.046</td>" in page
        assert "km s⁻¹" in page and "v_mic lies outside the training sample" in page
        assert page.count("6.00 ± 0.046") == 1  # the versions table has its column
    else:
        assert "RUWE lies outside the training sample" in page


def test_a_label_changes_in_one_place():
    """The declaration is what the parts read: change a label's unit there, and the fields,
    the form and the published columns follow."""
    hot = tuple(replace(x, vounit="km.s**-1") if x.name == "fe_h" else x for x in LABEL_SPECS)
    fields = cnn_label_fields(hot)
    assert fields["fe_h"].vo.unit == fields["sigma_fe_h"].vo.unit == "km.s**-1"
    assert SearchForm(labels=hot).fields["fe_h_min"].label.endswith("(km s⁻¹) min")
