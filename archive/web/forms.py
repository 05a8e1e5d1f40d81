"""The site's forms: every bad input gets a message on its own field, never a server error."""

from __future__ import annotations

import math
import re

from django import forms

from labeling.flags import CLEAN_FLAG, FLAG_DIGITS, FlagDigit
from labeling.labels import LABEL_SPECS, Label

from .search import DEFAULT_COLUMNS, SORT_DIRECTIONS, Cone, Search, bounds, quantities, range_names

MAX_IDS = 5000  # a longer list belongs in a TAP upload (the message says so)
MAX_RADIUS_DEG = 10.0
PAGE_SIZES = (25, 50, 100, 250)
RADIUS_UNITS = {"arcsec": 1 / 3600, "arcmin": 1 / 60, "deg": 1.0}


def parse_ra(text: str) -> float:
    """RA in degrees, or sexagesimal hours ('12 34 56.7', '12:34:56.7', '12h34m56.7s')."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        value = _sexagesimal(text, hours=True)
    if not 0 <= value < 360:
        raise forms.ValidationError("RA must lie in [0, 360) degrees (or 0h to 24h).")
    return value


def parse_dec(text: str) -> float:
    """Dec in degrees, or sexagesimal degrees ('-12 34 56', '-12:34:56', '-12d34m56s')."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        value = _sexagesimal(text, hours=False)
    if not -90 <= value <= 90:
        raise forms.ValidationError("Dec must lie in [-90, 90] degrees.")
    return value


_SEXA = re.compile(
    r"^([+-])?\s*(\d{1,3})\s*[:hd°\s]\s*(\d{1,2})\s*[:m'′\s]\s*(\d{1,2}(?:\.\d*)?)\s*[s\"″]?$",
    re.IGNORECASE,
)


def _sexagesimal(text: str, hours: bool) -> float:
    m = _SEXA.match(text)
    if not m:
        example = "12 34 56.7 or 12h34m56.7s" if hours else "-12 34 56 or -12d34m56s"
        raise forms.ValidationError(f"Not a number of degrees or a sexagesimal value ({example}).")
    sign, whole, minutes, seconds = m.groups()
    if int(minutes) >= 60 or float(seconds) >= 60:
        raise forms.ValidationError("Minutes and seconds must be below 60.")
    value = int(whole) + int(minutes) / 60 + float(seconds) / 3600
    value *= 15 if hours else 1
    return -value if sign == "-" else value


def parse_ids(text: str) -> tuple[int, ...]:
    """source_ids separated by spaces, commas, semicolons or new lines (order kept, no repeats)."""
    tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    bad = [t for t in tokens if not t.isdigit() or len(t) > 19]
    if bad:
        shown = ", ".join(repr(t) for t in bad[:3])
        raise forms.ValidationError(f"Not a source_id: {shown} (whole numbers only).")
    ids = tuple(dict.fromkeys(int(t) for t in tokens))
    if len(ids) > MAX_IDS:
        raise forms.ValidationError(
            f"{len(ids):,} source_ids: at most {MAX_IDS:,} per search. Upload longer lists "
            "as a table to the TAP service (UPLOAD) and join on source_id."
        )
    return ids


class SearchForm(forms.Form):
    """Search by id list, cone, ranges and flags; the table's columns, sort and page."""

    ids = forms.CharField(
        label="source_id(s)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "one or many, e.g. 4295806720"}),
        help_text=f"Separated by spaces, commas or new lines; up to {MAX_IDS:,}.",
    )
    ra = forms.CharField(
        label="RA",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "deg or 12:34:56.7"}),
    )
    dec = forms.CharField(
        label="Dec",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "deg or -12:34:56"}),
    )
    radius = forms.FloatField(label="Radius", required=False, min_value=0)
    radius_unit = forms.ChoiceField(
        label="Radius unit", choices=[(u, u) for u in RADIUS_UNITS], initial="arcmin",
        required=False,
    )  # fmt: skip
    flags = forms.ChoiceField(
        label="flag_boundary",
        required=False,
        choices=[
            ("any", "any flag"),
            ("clean", f"within the training sample limits only ({CLEAN_FLAG}, recommended)"),
            ("digits", "chosen digits 0"),
        ],
        initial="any",
    )
    clean_digits = forms.MultipleChoiceField(
        label="Digits that must be 0",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    columns = forms.MultipleChoiceField(
        label="Columns",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    sort = forms.ChoiceField(label="Sort by", required=False)
    direction = forms.ChoiceField(
        label="Order", required=False, choices=[("asc", "ascending"), ("desc", "descending")]
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        label="Rows per page", required=False, coerce=int,
        choices=[(n, n) for n in PAGE_SIZES], empty_value=PAGE_SIZES[1], initial=PAGE_SIZES[1],
    )  # fmt: skip

    def __init__(
        self,
        *args,
        labels: tuple[Label, ...] = LABEL_SPECS,
        digits: tuple[FlagDigit, ...] = FLAG_DIGITS,
        **kwargs,
    ):
        """``labels`` and ``digits``: the declarations the fields derive from (the
        catalogue's unless a test passes others)."""
        super().__init__(*args, **kwargs)
        self.quantities = quantities(labels)
        self.range_names = range_names(labels)
        self.bounds = bounds(labels)
        self.digits = digits
        choices = [(q.name, q.label) for q in self.quantities.values()]
        self.fields["columns"].choices = choices
        self.fields["sort"].choices = choices
        self.fields["clean_digits"].choices = [(str(i), d.name) for i, d in enumerate(digits)]
        for name in self.range_names:
            q = self.quantities[name]
            unit = f" ({q.unit})" if q.unit else ""
            for end in ("min", "max"):
                self.fields[f"{name}_{end}"] = forms.FloatField(
                    label=f"{q.label}{unit} {end}", required=False
                )

    def full_clean(self) -> None:
        super().full_clean()
        # a screen reader reads a field's error with the field (templates/web/_field.html)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-describedby"] = f"{self[name].auto_id}_error"
                attrs["aria-invalid"] = "true"

    def range_fields(self):
        """(quantity, min field, max field) for the template."""
        return [(self.quantities[n], self[f"{n}_min"], self[f"{n}_max"]) for n in self.range_names]

    def clean_ids(self) -> tuple[int, ...]:
        return parse_ids(self.cleaned_data.get("ids") or "")

    def clean_ra(self) -> float | None:
        text = self.cleaned_data.get("ra") or ""
        return parse_ra(text) if text.strip() else None

    def clean_dec(self) -> float | None:
        text = self.cleaned_data.get("dec") or ""
        return parse_dec(text) if text.strip() else None

    def clean(self):
        data = super().clean()
        ra, dec, radius = data.get("ra"), data.get("dec"), data.get("radius")
        given = [n for n in ("ra", "dec", "radius") if self.data.get(n, "").strip()]
        if given and len(given) < 3:
            for n in {"ra", "dec", "radius"} - set(given):
                self.add_error(n, "A cone needs RA, Dec and a radius.")
        if radius is not None and ra is not None and dec is not None:
            deg = radius * RADIUS_UNITS[data.get("radius_unit") or "arcmin"]
            if deg > MAX_RADIUS_DEG or deg <= 0:
                self.add_error(
                    "radius", f"The radius must be above 0 and at most {MAX_RADIUS_DEG:g} deg."
                )
        for name in self.range_names:
            lo, hi = data.get(f"{name}_min"), data.get(f"{name}_max")
            for end, value in (("min", lo), ("max", hi)):
                if value is None:
                    continue
                if not math.isfinite(value):
                    self.add_error(f"{name}_{end}", "Enter a finite number.")
                elif name in self.bounds and not (
                    self.bounds[name][0] <= value <= self.bounds[name][1]
                ):
                    low, high = self.bounds[name]
                    self.add_error(f"{name}_{end}", f"Out of range: between {low:g} and {high:g}.")
            if lo is not None and hi is not None and lo > hi:
                self.add_error(f"{name}_max", "The maximum is below the minimum.")
        if data.get("flags") == "digits" and not data.get("clean_digits"):
            self.add_error("clean_digits", "Choose at least one digit that must be 0.")
        return data

    def search(self) -> Search:
        """The cleaned search (call after ``is_valid``)."""
        d = self.cleaned_data
        cone = None
        if d.get("ra") is not None and d.get("dec") is not None and d.get("radius") is not None:
            cone = Cone(
                d["ra"], d["dec"], d["radius"] * RADIUS_UNITS[d.get("radius_unit") or "arcmin"]
            )
        ranges = {
            n: (d.get(f"{n}_min"), d.get(f"{n}_max"))
            for n in self.range_names
            if d.get(f"{n}_min") is not None or d.get(f"{n}_max") is not None
        }
        flags = d.get("flags") or "any"
        digits: tuple[int, ...] = ()
        if flags == "clean":
            digits = tuple(range(len(self.digits)))
        elif flags == "digits":
            digits = tuple(sorted(int(i) for i in d.get("clean_digits") or ()))
        columns = tuple(d.get("columns") or ()) or DEFAULT_COLUMNS
        direction = d.get("direction") if d.get("direction") in SORT_DIRECTIONS else "asc"
        return Search(
            source_ids=d.get("ids") or (),
            cone=cone,
            ranges=ranges,
            clean_digits=digits,
            columns=columns,
            sort=d.get("sort") or "source_id",
            direction=direction,
        )

    @property
    def is_empty(self) -> bool:
        """Nothing asked yet (the form's first view)."""
        return not any(v for k, v in self.data.items() if k not in ("csrfmiddlewaretoken",))
