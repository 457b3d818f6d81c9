"""Venue-code verification on the scan path: a known venue's code (cached) against a fresh
signature check, measured in the same run.

    .venv/bin/python bench/bench_code_verify.py [--venues 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jwt
from common import header, median_seconds, prepared_database, throwaway_settings

from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.signing import Keyring
from placecode.venues import service
from placecode.venues.codes import CodeBook
from placecode.venues.schemas import VenueCreate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    header("Venue code verification", f"python bench/bench_code_verify.py --venues {args.venues}")

    settings = throwaway_settings()
    database = prepared_database(settings)
    admin = Principal(0, "bench", "bench", Role.district_admin, None, "cli")
    book = CodeBook(settings, Keyring(settings))
    with database.session() as session:
        venues = [
            service.register_venue(
                session=session,
                principal=admin,
                data=VenueCreate(
                    name=f"基准店{i}",
                    address=f"基准路{i}号",
                    street="taopu",
                    category="shop",
                    operator_name=f"基准店{i}",
                ),
            )
            for i in range(args.venues)
        ]
        tokens = [book.issue(session=session, venue=venue) for venue in venues]

    with database.sessions() as session:
        for token in tokens:  # warm: every venue verified once
            book.verify(session=session, token=token)
        position = iter(range(10**9))

        def cached() -> None:
            book.verify(session=session, token=tokens[next(position) % len(tokens)])

        kid = jwt.get_unverified_header(tokens[0])["kid"]
        public = book.keyring.public[kid]

        def fresh_signature() -> None:
            jwt.decode(tokens[next(position) % len(tokens)], public, algorithms=["EdDSA"])

        def cold() -> None:
            cold_book = CodeBook(settings, Keyring(settings))
            cold_book.verify(session=session, token=tokens[next(position) % len(tokens)])

        number = 2000
        cached_s = median_seconds(cached, repeat=args.repeat, number=number)
        fresh_s = median_seconds(fresh_signature, repeat=args.repeat, number=number)
        cold_s = median_seconds(cold, repeat=args.repeat, number=100)

    print(f"venues: {args.venues}, runs: {args.repeat} (median)")
    print(f"known venue, cached verify:            {cached_s * 1e6:8.1f} µs per scan")
    print(f"fresh signature check alone (PyJWT):   {fresh_s * 1e6:8.1f} µs per scan")
    print(f"cold verify (new worker: keys, venue):  {cold_s * 1e6:8.1f} µs per scan")
    print(f"ratio cached / fresh signature:        {cached_s / fresh_s:8.3f}")


if __name__ == "__main__":
    main()
