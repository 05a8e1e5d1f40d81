"""The science of RVS-CNN Archive: a pure library (no Django, no Celery).

Follows Guiglion et al. 2024, A&A 682, A9, section by section; each module names the
section it implements.
"""
