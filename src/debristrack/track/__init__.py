"""Association of detections into tracks, one module per observing mode."""
