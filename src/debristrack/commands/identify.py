"""``debristrack identify TRACKS --tle FILE [FILE...]``: which catalogue object is each track?

Every track is compared with the whole catalogue (stvid's criteria, see
:mod:`debristrack.astrometry.identify`); each gets a NORAD id and name with the four
residuals, or ``UCT`` with its measured rate and direction. With ``--sequence`` the objects
predicted to cross the field that no track matched are listed too ("predicted, not seen").
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from ..astrometry.catalogue import load_catalogue
from ..astrometry.ephemeris import Site
from ..astrometry.identify import (IdentifyConfig, annotate, frames_of_sequence, identify_table, not_seen,
                                   predicted_in_field, results_csv)
from ..config import add_dataclass_arguments, dataclass_from_args
from ..errors import InputError
from ..io.atomic import atomic_write, check_writable
from ..io.tables import read_table, write_table
from ..progress import say



def add_identify_arguments(p: argparse.ArgumentParser, *, standalone: bool = True) -> None:
    """The catalogue and criteria flags (shared with ``track --identify``)."""
    p.add_argument("--tle", type=Path, nargs="+", metavar="FILE", required=standalone,
                   help="TLE catalogue file(s), 2- or 3-line sets; a NORAD number in several keeps its latest epoch")
    p.add_argument("--site", help="observer as lat,lon[,height]: degrees, degrees east, metres "
                                  "(default: the sequence's OBSGEO-B/L/H headers)")
    add_dataclass_arguments(p, IdentifyConfig, title="identification criteria (defaults: stvid's)")


def register(sub) -> None:
    p = sub.add_parser("identify", help="identify tracks against a TLE catalogue (NORAD id or UCT)",
                       description="Compare every track with every object of a TLE catalogue (propagated all "
                                   "at once with SGP4) by cross-track offset, along-track time offset, "
                                   "direction and rate; print NORAD id and name, or UCT with the measured motion.")
    p.add_argument("tracks", type=Path, metavar="TRACKS", help="tracks CSV with time and ra/dec columns")
    add_identify_arguments(p)
    p.add_argument("--sequence", type=Path, help="the frames the tracks come from: the site (OBSGEO headers) and "
                                                 "the field, for the objects predicted but not seen")
    p.add_argument("--wcs", type=Path, metavar="FILE", help="WCS of the sequence solved elsewhere (as for track)")
    p.add_argument("--mode", choices=("sidereal", "stare", "target"),
                   help="observing mode, for --wcs in stare mode (propagated by the Earth's rotation)")
    p.add_argument("-o", "--output", type=Path, help="write the per-track results to this CSV")
    p.add_argument("--tracks-out", type=Path, metavar="FILE",
                   help="write the tracks table with norad,name columns (may be TRACKS itself)")
    p.add_argument("--unseen", type=Path, metavar="FILE", help="write the predicted-but-not-seen objects to this CSV")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def site_for(site_text: str | None, seq) -> Site:
    if site_text:
        return Site.parse(site_text)
    if seq is not None:
        site = Site.from_header(seq.header(0))
        if site is not None:
            return site
        raise InputError(f"{seq.path}: no OBSGEO-B/L/H (or LATITUDE/LONGITUD) headers; give --site")
    raise InputError("give the observer's site: --site lat,lon,height or --sequence SEQ with OBSGEO headers")


def identify_with_field(table, seq, *, tle, site_text, config, wcs_for=None):
    """(results, not-seen rows or None, annotated table): the whole identification of one table."""
    catalogue = load_catalogue(tle)
    site = site_for(site_text, seq)
    results = identify_table(table, catalogue, site, config)
    unseen = None
    if seq is not None:
        predicted = predicted_in_field(catalogue, frames_of_sequence(seq, wcs_for), site,
                                       min_altitude=config.min_altitude)
        unseen = not_seen(catalogue, predicted, results)
    return results, unseen, annotate(table, results)


def _check_writable(*paths) -> None:
    for p in paths:
        if p is not None:
            check_writable(p, what="output table")


def unseen_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("norad", "name", "designator", "frames"))
    for r in rows:
        w.writerow((r["norad"], r["name"], r["designator"], " ".join(map(str, r["frames"]))))
    return buf.getvalue()


def text_report(results, unseen) -> str:
    lines = [f"{'id':>4} {'NORAD':>6} {'name':<24} {'cross(deg)':>10} {'along(s)':>9} {'dir(deg)':>8} "
             f"{'rate':>7} {'rate(as/s)':>10} {'PA(deg)':>7}"]
    for r in results:
        if r.status == "ID":
            lines.append(f"{r.id:>4} {r.norad:>6} {r.name[:24]:<24} {r.cross_track_deg:10.4f} {r.along_track_s:9.3f} "
                         f"{r.direction_diff_deg:8.3f} {r.rate_diff:+7.3f} {r.rate_arcsec_s:10.2f} {r.direction_deg:7.2f}")
        else:
            lines.append(f"{r.id:>4} {'UCT':>6} {'(uncorrelated)':<24} {'':>10} {'':>9} {'':>8} {'':>7} "
                         f"{r.rate_arcsec_s:10.2f} {r.direction_deg:7.2f}")
    if unseen is not None:
        lines.append(f"predicted, not seen: {len(unseen)} object(s)")
        for u in unseen:
            lines.append(f"  {u['norad']:>6} {u['name'][:24]:<24} frames {' '.join(map(str, u['frames']))}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    _check_writable(args.output, args.tracks_out, args.unseen)
    config = dataclass_from_args(IdentifyConfig, args)
    config.validate()
    table = read_table(args.tracks)
    seq = wcs_for = None
    if args.sequence:
        from ..astrometry.sky import wcs_source
        from ..io.sequence import open_sequence

        seq = open_sequence(args.sequence)
        wcs_for = wcs_source(seq, wcs_file=args.wcs, mode=args.mode)
    results, unseen, annotated = identify_with_field(table, seq, tle=args.tle, site_text=args.site, config=config,
                                                     wcs_for=wcs_for)
    if args.output:
        with atomic_write(args.output, "w", encoding="utf-8") as fh:
            fh.write(results_csv(results))
    if args.unseen and unseen is not None:
        with atomic_write(args.unseen, "w", encoding="utf-8") as fh:
            fh.write(unseen_csv(unseen))
    if args.tracks_out:
        write_table(annotated, args.tracks_out)
    if args.json:
        tracks = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.as_dict().items()}
                  for r in results]
        json.dump({"tracks": tracks, "predicted_not_seen": unseen}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text_report(results, unseen))
    n_id = sum(r.status == "ID" for r in results)
    say(f"{args.tracks}: {n_id} identified, {len(results) - n_id} UCT"
        + ("" if unseen is None else f", {len(unseen)} predicted but not seen"))
    return 0
