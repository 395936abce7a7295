"""Secret detection: sources of text, detectors, suppression and baselines."""
