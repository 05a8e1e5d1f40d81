"""Admin pages for the catalogue records (read-mostly: bulk data arrives through ingest)."""

from django.contrib import admin

from .models import ApogeeLabel, GaiaSource, ModelVersion, RvsSpectrum, XpCoefficients


class ViewOnlyAdmin(admin.ModelAdmin):
    """Records only the pipeline and publishing write: an admin edit would bypass their checks
    (a hand-ticked is_published skips the row count, the lock and the Publication record)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GaiaSource)
class GaiaSourceAdmin(admin.ModelAdmin):
    list_display = [
        "source_id",
        "ra",
        "dec",
        "phot_g_mean_mag",
        "parallax",
        "rvs_spec_sig_to_noise",
    ]
    search_fields = ["=source_id"]
    show_full_result_count = False  # count(*) on millions of rows is slow


@admin.register(RvsSpectrum)
class RvsSpectrumAdmin(admin.ModelAdmin):
    list_display = ["source", "store_array", "store_row", "n_nan_pixels"]
    search_fields = ["=source__source_id"]
    raw_id_fields = ["source"]
    show_full_result_count = False


@admin.register(XpCoefficients)
class XpCoefficientsAdmin(admin.ModelAdmin):
    list_display = ["source", "bp_n_relevant_bases", "rp_n_relevant_bases"]
    search_fields = ["=source__source_id"]
    raw_id_fields = ["source"]
    show_full_result_count = False


@admin.register(ApogeeLabel)
class ApogeeLabelAdmin(admin.ModelAdmin):
    list_display = ["apogee_id", "telescope", "field", "source_id", "teff", "logg", "m_h", "snr"]
    search_fields = ["apogee_id", "=source_id"]
    list_filter = ["telescope"]
    show_full_result_count = False


@admin.register(ModelVersion)
class ModelVersionAdmin(ViewOnlyAdmin):
    list_display = [
        "name",
        "status",
        "inputs",
        "n_splits",
        "n_members",
        "is_published",
        "created_at",
    ]
    list_filter = ["status", "inputs", "is_published"]
