"""``debristrack residuals TRACKS --tle FILE``: O-C against a TLE or a tabulated ephemeris.

[TRK] sec. 5.3, eq. 23-24: per-axis RMS (RA times cos dec), total sigma, and metres at range.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.time import Time

from ..astrometry.ephemeris import (Site, epoch_warning, interpolate_ephemeris, predict_tle, read_ephemeris,
                                    read_tle)
from ..astrometry.export import sky_positions
from ..astrometry.residuals import accuracy, oc_residuals, plot_residuals
from ..errors import InputError
from ..io.atomic import PLOT_SUFFIXES, check_writable
from ..io.tables import detections_only, read_table, write_table
from ..progress import say


def register(sub) -> None:
    p = sub.add_parser("residuals", help="O-C accuracy of a track against a TLE or an ephemeris",
                       description="Observed minus computed sky positions of each track, [TRK] eq. 23-24.")
    p.add_argument("tracks", type=Path, metavar="TRACKS", help="tracks CSV with time and ra/dec columns")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tle", type=Path, help="TLE file (2- or 3-line sets)")
    src.add_argument("--ephemeris", type=Path, help="CSV of time,ra,dec[,range_km] (ICRS degrees, UTC)")
    p.add_argument("--object", help="which object of the TLE file: name or NORAD number")
    p.add_argument("--site", help="observer as lat,lon[,height]: degrees, degrees east, metres")
    p.add_argument("--sequence", type=Path, help="read the site from this sequence's OBSGEO-B/L/H headers")
    p.add_argument("--id", type=int, action="append", help="only this track id (repeatable)")
    p.add_argument("-o", "--output", type=Path, help="write per-frame residuals to this CSV")
    p.add_argument("--plot", type=Path, help="residual plot (PNG)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(run=run)


def _site(args) -> Site:
    if args.site:
        return Site.parse(args.site)
    if args.sequence:
        from ..io.sequence import open_sequence

        site = Site.from_header(open_sequence(args.sequence).header(0))
        if site is not None:
            return site
        raise InputError(f"{args.sequence}: no OBSGEO-B/L/H (or LATITUDE/LONGITUD) headers; give --site")
    raise InputError("give the observer's site: --site lat,lon,height or --sequence SEQ with OBSGEO headers")


def run(args: argparse.Namespace) -> int:
    if args.output:
        check_writable(args.output, what="residuals table")
    if args.plot:
        check_writable(args.plot, what="--plot image", suffixes=PLOT_SUFFIXES)
    site = _site(args) if args.tle else None  # a bad --site fails before any reading
    table = detections_only(read_table(args.tracks))
    ra, dec = sky_positions(table)
    if "time" not in table.colnames:
        raise InputError(f"{args.tracks}: no time column (the frames had no DATE-OBS)")
    keep = np.isfinite(ra) & np.isfinite(dec) & (np.char.strip(np.asarray(table["time"]).astype(str)) != "")
    if args.id:
        keep &= np.isin(np.asarray(table["id"]), args.id)
    if not keep.any():
        raise InputError(f"{args.tracks}: no rows with a time and sky coordinates" + (" for the given --id" if args.id else ""))
    table, ra, dec = table[keep], ra[keep], dec[keep]
    times = Time(list(np.asarray(table["time"]).astype(str)), format="isot", scale="utc")
    if args.tle:
        tle = read_tle(args.tle, select=args.object)
        warning = epoch_warning(tle, times)
        if warning:
            say(f"debristrack: warning: {warning}")
        pred = predict_tle(tle, times, site)
        if not np.isfinite(pred.ra_deg).any():
            raise InputError(f"{args.tle}: SGP4 gives no position for {tle[0]!r} at the frames' times")
        label = tle[0]
    else:
        pred = interpolate_ephemeris(read_ephemeris(args.ephemeris), times)
        label = args.ephemeris.stem
    dra, ddec = oc_residuals(ra, dec, pred.ra_deg, pred.dec_deg)

    report = {}
    ids = np.asarray(table["id"])
    for track_id in np.unique(ids):
        rows = ids == track_id
        fig = accuracy(dra[rows], ddec[rows], None if pred.range_m is None else pred.range_m[rows])
        report[int(track_id)] = fig.as_dict()
    if args.json:
        print(json.dumps({"object": label, "tracks": report}, indent=2))
    else:
        print(f"O-C against {label} ([TRK] eq. 23-24), arcsec:")
        print(f"{'id':>5} {'n':>5} {'σ_RA·cosδ':>10} {'σ_Dec':>8} {'σ_total':>8} {'mean RA':>8} {'mean Dec':>8} {'σ (m)':>9}")
        for track_id, f in report.items():
            metres = f"{f['sigma_m']:.1f}" if f["sigma_m"] is not None else "-"
            print(f"{track_id:>5} {f['n']:>5} {f['sigma_ra_arcsec']:>10.3f} {f['sigma_dec_arcsec']:>8.3f} "
                  f"{f['sigma_total_arcsec']:>8.3f} {f['mean_ra_arcsec']:>8.3f} {f['mean_dec_arcsec']:>8.3f} {metres:>9}")
    if args.output:
        out = Table({"frame": table["frame"], "id": table["id"], "x": np.zeros(len(table)), "y": np.zeros(len(table))})
        for c in ("x", "y"):
            if c in table.colnames:
                out[c] = table[c]
        out["time"] = table["time"]
        out["ra"], out["dec"] = ra, dec
        out["ra_pred"], out["dec_pred"] = pred.ra_deg, pred.dec_deg
        out["dra_cosdec_arcsec"], out["ddec_arcsec"] = dra, ddec
        if pred.range_m is not None:
            out["range_km"] = pred.range_m / 1e3
        write_table(out, args.output)
        say(f"per-frame residuals -> {args.output}")
    if args.plot:
        first = int(np.unique(ids)[0])
        rows = ids == first
        fig = accuracy(dra[rows], ddec[rows], None if pred.range_m is None else pred.range_m[rows])
        plot_residuals(times.mjd[rows], dra[rows], ddec[rows], fig, args.plot, title=f"{label}, track {first}")
        say(f"residual plot -> {args.plot}")
    return 0
