"""``manage.py pipeline``: every action described, run options generated from PipelineConfig."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.ops.management.commands.pipeline import Command
from archive.ops.models import PipelineRun
from labeling.config import EnsembleConfig, PipelineConfig
from tasks import app


def parser():
    return Command().create_parser("manage.py", "pipeline")


def test_help_describes_every_action():
    text = " ".join(parser().format_help().split())
    for action, words in [
        ("run", "start a run"),
        ("status", "show the latest runs"),
        ("cancel", "cancel an active run"),
        ("resume", "carry on a cancelled or failed run"),
        ("publish", "publish a ready model version"),
        ("rollback", "publish again the version"),
    ]:
        assert f"{action} {words}" in text, action
    sub = next(a for a in parser()._actions if a.dest == "action")
    for name, action_parser in sub.choices.items():
        assert action_parser.description, name  # `pipeline ACTION --help` heads with it
        for arg in action_parser._actions:
            assert arg.help, (name, arg.dest)


def test_run_options_are_the_configuration_fields():
    run = next(a for a in parser()._actions if a.dest == "action").choices["run"]
    options = {a.dest: a for a in run._actions}
    for o in PipelineConfig.options():
        assert (
            options[o.name].default == o.default
            and f"--{o.option}" in options[o.name].option_strings
        )
    # the Makefile's line keeps its option names
    args = parser().parse_args(
        "run --splits 1 --members 2 --epochs 12 --patience 4 --perplexities 30 "
        "--publish --wait --unless-published --no-calibrate-sigma --augment-min-snr none".split()
    )
    from archive.ops.config_form import config_from_arguments

    config = config_from_arguments(vars(args))
    assert config.ensemble == EnsembleConfig(
        n_splits=1, n_members=2, epochs=12, patience=4, augment_min_snr=None
    )
    assert config.tsne_perplexities == (30,) and not config.calibrate_sigma
    assert args.publish and args.wait and args.unless_published


def test_one_default_seed():
    assert PipelineConfig().seed == EnsembleConfig().seed == 0
    old_run = PipelineConfig.from_dict({"n_splits": 1, "seed": 3, "chunk_size": 700})
    assert old_run.seed == old_run.ensemble.seed == 3 and old_run.chunk_size == 700
    assert PipelineConfig.from_dict(old_run.to_dict()) == old_run


@pytest.mark.django_db
def test_run_stores_the_configuration_and_refuses_unknown_runs(settings):
    try:
        call_command("pipeline", "run", "--splits", "1", "--seed", "5")
        run = PipelineRun.objects.get()
        assert run.config == PipelineConfig.from_dict({"n_splits": 1, "seed": 5}).to_dict()
    finally:
        app.control.purge()
    with pytest.raises(CommandError, match="no run 999"):
        call_command("pipeline", "cancel", "999")
    with pytest.raises(CommandError, match="no run 999"):
        call_command("pipeline", "status", "999")


@pytest.mark.django_db
def test_finalize_steps_show_how_far_they_are():
    """The finalize stage's long steps (t-SNE maps, splits cross-validated, stars labelled)
    each count in their own unit, so `pipeline status` gives the step's rate and time left."""
    from archive.progress import Progress
    from tasks.pipeline import _counter

    run = PipelineRun.objects.create(config={})
    count = _counter(run.pk, PipelineRun.Stage.FLAGS)
    count("splits", 0, 7)
    count("splits", 3, 7)
    run.refresh_from_db()
    p = Progress.from_dict(run.progress)
    assert (p.stage, p.unit, p.done, p.total) == ("flags", "splits", 3, 7)
    assert run.progress_text.startswith("3/7 splits (43%)")
    count("t-SNE maps", 0, 4)  # the next step starts its own count, and its own rate
    run.refresh_from_db()
    p = Progress.from_dict(run.progress)
    assert (p.unit, p.done, p.total, p.done_at_start) == ("t-SNE maps", 0, 4, 0)
    count("t-SNE maps", 1, 4)
    run.refresh_from_db()
    assert run.progress_text.startswith("1/4 t-SNE maps (25%)")
