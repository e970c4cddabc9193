"""Sky coordinates and time for tracks, O-C residuals against an ephemeris, exports."""
