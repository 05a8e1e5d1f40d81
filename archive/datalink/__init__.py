"""DataLink 1.1 (links of a source: its RVS spectrum, XP coefficients, APOGEE labels, the
validation report), the spectrum and XP products, and Simple Cone Search at /scs."""
