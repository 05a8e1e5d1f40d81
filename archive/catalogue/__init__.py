"""The catalogue: Gaia inputs, APOGEE labels, model versions and CNN labels."""
