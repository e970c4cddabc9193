"""Input and output: FITS sequences, frame times, bad-pixel masks, ZScale, tables."""
