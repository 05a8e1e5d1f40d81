"""Operations: pipeline runs that re-train, predict and publish the catalogue, and staff pages."""
