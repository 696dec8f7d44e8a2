"""Training the detector: simulated datasets, the ultralytics wrapper, held-out evaluation."""
