"""The staff form and the CLI options of a run, generated from ``PipelineConfig``'s fields.

One source: a field added to :class:`labeling.config.PipelineConfig` (or its ensemble) with a
``help`` in its metadata appears on /ops/ and in ``manage.py pipeline run`` with its default.
"""

from __future__ import annotations

import argparse

from django import forms

from labeling.config import ConfigError, ConfigOption, PipelineConfig


def parse_many(text: str, kind: type = int) -> tuple:
    """A comma-separated list ("30,50,75") as a tuple of ``kind``."""
    try:
        return tuple(kind(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError as exc:
        raise ValueError(f"not a comma-separated list of {kind.__name__}: {text!r}") from exc


def _form_field(o: ConfigOption) -> forms.Field:
    # not required: an option left out (or emptied, unless None means something) takes its default
    common = {
        "label": o.option.replace("-", " ").capitalize(),
        "help_text": o.help,
        "required": False,
    }
    if o.choices:
        choices = [(c, c) for c in o.choices]
        return forms.ChoiceField(choices=choices, initial=o.default, **common)
    if o.many:
        initial = ",".join(str(v) for v in o.default)
        return forms.CharField(initial=initial, **common)
    if o.kind is bool:  # yes/no, not a checkbox: a field left out keeps its default
        return forms.TypedChoiceField(
            choices=[("yes", "yes"), ("no", "no")],
            coerce=lambda v: v == "yes",
            empty_value=None,
            initial="yes" if o.default else "no",
            **common,
        )
    bounds = {"min_value": o.min, "max_value": o.max}
    field = forms.IntegerField if o.kind is int else forms.FloatField
    return field(initial=o.default, **bounds, **common)


class RunForm(forms.Form):
    """Every option of :meth:`PipelineConfig.options`, then whether to publish."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for o in PipelineConfig.options():
            self.fields[o.name] = _form_field(o)
        self.fields["publish"] = forms.BooleanField(
            required=False, label="Publish when it succeeds"
        )

    def clean(self) -> dict:
        data = super().clean()
        for o in PipelineConfig.options():
            if o.name not in self.data:
                data[o.name] = o.default  # not sent at all
            elif data.get(o.name) in (None, "") and not o.optional:
                data[o.name] = o.default
            elif o.many and o.name in data:
                try:
                    data[o.name] = parse_many(data[o.name], o.kind)
                except ValueError as exc:
                    self.add_error(o.name, str(exc))
        if not self.errors:
            try:
                data["config"] = self.config_from(data)
            except ConfigError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data

    @staticmethod
    def config_from(data: dict) -> PipelineConfig:
        return PipelineConfig.from_dict({o.name: data[o.name] for o in PipelineConfig.options()})


def _optional(kind: type):
    return lambda text: None if text.lower() in ("", "none") else kind(text)


def _many(kind: type):
    return lambda text: parse_many(text, kind)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--splits``, ``--members``, … one per option, with its default and help."""
    for o in PipelineConfig.options():
        about = o.help.replace("%", "%%")  # argparse formats help with %
        kw: dict = {"dest": o.name, "default": o.default, "type": o.kind, "choices": o.choices}
        default = "%(default)s"
        if o.kind is bool:
            kw = {"dest": o.name, "default": o.default, "action": argparse.BooleanOptionalAction}
        elif o.many:
            kw["type"], default = _many(o.kind), ",".join(map(str, o.default))
            about += ", comma-separated"
        elif o.optional:
            kw["type"] = _optional(o.kind)
        kw["help"] = f"{about} (default: {default})"
        if o.kind is not bool and not o.choices:
            kw["metavar"] = o.option.upper().replace("-", "_")
        parser.add_argument(f"--{o.option}", **{k: v for k, v in kw.items() if v != ()})


def config_from_arguments(options: dict) -> PipelineConfig:
    return PipelineConfig.from_dict({o.name: options[o.name] for o in PipelineConfig.options()})
