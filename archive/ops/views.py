"""Staff pages: start a re-training run, follow it live, read its report, publish, roll back or
delete a version.

Staff only (login required), POST-only actions with Django's CSRF protection; the views never
run TensorFlow: they send Celery tasks by name (archive.jobs) and read what the workers record.
"""

from pathlib import Path

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from archive.catalogue.models import ModelVersion

from .config_form import RunForm
from .deletion import DeleteRefused, delete_version, why_kept
from .models import PipelineRun, Publication
from .publishing import PublishError, publish, rollback
from .runs import ResumeError, cancel_run, resume_run, start_run


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run = start_run(data["config"], publish=data["publish"], user=request.user)
        messages.success(request, f"Run {run.pk} queued.")
        return redirect("ops:run", run.pk)
    return render(
        request,
        "ops/dashboard.html",
        {
            "form": form,
            "runs": PipelineRun.objects.select_related("model_version")[:20],
            "versions": [(v, why_kept(v)) for v in ModelVersion.objects.all()[:30]],
            "published": ModelVersion.objects.published().first(),
            "publications": Publication.objects.select_related("model_version")[:10],
        },
    )


@staff_member_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "ops/run.html", {"run": get_object_or_404(PipelineRun, pk=pk)})


@staff_member_required
def run_json(request: HttpRequest, pk: int) -> JsonResponse:
    """What the run page polls for live progress."""
    run = get_object_or_404(PipelineRun, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "stage": run.stage,
            "stage_label": run.get_stage_display(),
            "percent": run.percent,
            "progress": run.progress_text,
            "counts": run.counts,
            "log": run.log,
            "error": run.error,
            "active": run.is_active,
            "version": run.model_version.name if run.model_version else None,
        }
    )


@staff_member_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(PipelineRun, pk=pk)
    cancelled = cancel_run(pk)
    messages.info(request, f"Run {pk} cancelled." if cancelled else f"Run {pk} was not active.")
    return redirect("ops:run", pk)


@staff_member_required
@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(PipelineRun, pk=pk)
    try:
        stage = resume_run(pk)
        messages.success(request, f"Run {pk} resumed at stage {stage}.")
    except ResumeError as exc:
        messages.error(request, str(exc))
    return redirect("ops:run", pk)


@staff_member_required
@require_POST
def version_publish(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        publish(get_object_or_404(ModelVersion, pk=pk), user=request.user, note="staff page")
        messages.success(request, "Published.")
    except PublishError as exc:
        messages.error(request, str(exc))
    return redirect("ops:dashboard")


@staff_member_required
@require_POST
def version_delete(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion, pk=pk)
    if request.POST.get("confirm") != version.name:
        messages.error(request, f"{version.name} not deleted: tick the box to confirm.")
        return redirect("ops:dashboard")
    try:
        deleted = delete_version(version.name)
        messages.success(request, f"{deleted.name} deleted ({deleted.labels} label rows).")
    except DeleteRefused as exc:
        messages.error(request, str(exc))
    return redirect("ops:dashboard")


@staff_member_required
@require_POST
def version_rollback(request: HttpRequest) -> HttpResponse:
    try:
        current = request.POST.get("current", "")
        expected = int(current) if current.isdigit() else None
        p = rollback(user=request.user, expected_current=expected)
        messages.success(request, f"{p.model_version} published again.")
    except PublishError as exc:
        messages.error(request, str(exc))
    return redirect("ops:dashboard")


@staff_member_required
def version_report(request: HttpRequest, pk: int, name: str = "index.html") -> FileResponse:
    """A file of the version's validation report (HTML, PNG, JSON)."""
    version = get_object_or_404(ModelVersion, pk=pk)
    root = (Path(version.path) / "files" / "validation").resolve()
    target = (root / name).resolve()
    if root not in target.parents or not target.is_file():
        raise Http404("no such report file")
    return FileResponse(open(target, "rb"))  # noqa: SIM115 -- FileResponse closes it


# at most this many stars go into the difference plots (a random sample by source_id hash)
COMPARE_MAX_STARS = 200_000


def _compare_choice(request: HttpRequest, versions, key: str) -> tuple[ModelVersion | None, str]:
    """The ready version named by ``?key=``, or why there is none ("" when not asked)."""
    raw = request.GET.get(key, "").strip()
    side = key.upper()
    if not raw:
        return None, f"Choose version {side}."
    if not raw.isdigit():
        return None, f"{side} must be a model version's number, not {raw!r}."
    version = versions.filter(pk=int(raw)).first()
    if version is None:
        return None, f"There is no ready model version {raw} ({side})."
    return version, ""


#: per-star differences (plot_label_differences) and accuracy metrics (compare_versions) shown
STAR_COLUMNS = [("n", "stars"), ("bias", "mean"), ("std", "σ"), ("robust_sigma", "robust σ")]
STAR_COLUMNS += [("median", "median"), ("max_abs", "max |Δ|")]
ACCURACY_METRICS = [("bias", "bias"), ("std", "σ"), ("robust_sigma", "robust σ")]
ACCURACY_METRICS += [("coverage_1sigma", "within 1σ*"), ("coverage_2sigma", "within 2σ*")]
ACCURACY_METRICS += [("median_sigma", "median σ*")]


@staff_member_required
def version_compare(request: HttpRequest) -> HttpResponse:
    """Two versions label by label: report figures side by side and per-star differences."""
    import base64
    import json
    import tempfile

    import numpy as np
    from django.db import connection

    from labeling.labels import BY_NAME, DISPLAY, LABELS
    from labeling.validation import compare_versions, plot_label_differences

    versions = ModelVersion.objects.ready()
    if "a" not in request.GET and "b" not in request.GET:
        return render(request, "ops/compare.html", {"versions": versions})
    a, why_a = _compare_choice(request, versions, "a")
    b, why_b = _compare_choice(request, versions, "b")
    if a is None or b is None:
        errors = [why for why in (why_a, why_b) if why]
        return render(
            request, "ops/compare.html", {"versions": versions, "errors": errors}, status=400
        )

    def figures(v: ModelVersion) -> dict:
        path = Path(v.path) / "files" / "validation" / "report.json"
        return json.loads(path.read_text())["figures"] if path.exists() else {}

    cols = ", ".join(f"a.{k}, b.{k}" for k in LABELS)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {cols} FROM cnn_label a JOIN cnn_label b USING (source_id) "
            f"WHERE a.model_version_id = %s AND b.model_version_id = %s "
            f"ORDER BY hashint8(source_id) LIMIT %s",
            [a.pk, b.pk, COMPARE_MAX_STARS],
        )
        rows = np.array(cur.fetchall(), dtype=float).reshape(-1, 2 * len(LABELS))
    image, stats = None, {}
    if len(rows):
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "differences.png"
            stats = plot_label_differences(rows[:, 0::2], rows[:, 1::2], png)
            image = base64.b64encode(png.read_bytes()).decode()
    heldout = compare_versions(figures(a), figures(b)).get("accuracy", {}).get("heldout", {})
    star_rows = [
        {
            "label": DISPLAY[k],
            "unit": BY_NAME[k].unit,
            "values": [stats[k].get(m) for m, _ in STAR_COLUMNS],
        }
        for k in LABELS
        if k in stats
    ]
    accuracy_rows = [
        {
            "label": DISPLAY[k],
            "metric": name,
            "a": heldout[k].get(f"{m}_a"),
            "b": heldout[k].get(f"{m}_b"),
            "d": heldout[k].get(f"d_{m}"),
        }
        for k in LABELS
        if k in heldout
        for m, name in ACCURACY_METRICS
    ]
    return render(
        request,
        "ops/compare.html",
        {
            "versions": versions,
            "a": a,
            "b": b,
            "n_common": len(rows),
            "image": image,
            "star_columns": [name for _, name in STAR_COLUMNS],
            "star_rows": star_rows,
            "accuracy_rows": accuracy_rows,
        },
    )
