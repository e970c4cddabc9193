"""Detection: stacking, source extraction and streak detectors."""
