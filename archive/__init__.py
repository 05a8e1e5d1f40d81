"""The Django project of RVS-CNN Archive: one app per capability."""
