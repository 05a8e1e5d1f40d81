"""One lifecycle for long work (pipeline runs, ADQL queries, exports) in the UWS 1.1 phases."""
