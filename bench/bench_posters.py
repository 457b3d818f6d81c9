"""Poster rendering: 1,000 A4 posters in one PDF (an organisation's bulk export), and single
PNG posters.

    .venv/bin/python bench/bench_posters.py [--posters 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import header

from placecode.venues import posters


def data(i: int) -> posters.PosterData:
    return posters.PosterData(
        venue_id=f"bench{i:05d}",
        name=f"长风新村街道第{i}号便民商店",
        address=f"上海市普陀区长风路{i}号",
        street_zh="长风新村街道",
        street_en="Changfeng Xincun Subdistrict",
        category_zh="沿街商铺",
        region_zh="上海市普陀区",
        url="https://placecode.putuo.example/s/eyJhbGciOiJFZERTQSIsImtpZCI6IjEyMzQ1Njc4In0."
        f"eyJ0IjoidmVudWUiLCJ2IjoiYmVuY2gwMDAwMSIsIm4iOjF9.{i:086d}",
        version=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posters", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header("Poster rendering", f"python bench/bench_posters.py --posters {args.posters}")
    items = [data(i) for i in range(args.posters)]
    pdf_times, sizes = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        pdf = posters.poster_pdf(items)
        pdf_times.append(time.perf_counter() - started)
        sizes.append(len(pdf))
    single = []
    for i in range(10):
        started = time.perf_counter()
        posters.poster_pdf([items[i]])
        single.append(time.perf_counter() - started)
    png = []
    for i in range(10):
        started = time.perf_counter()
        posters.poster_png(items[i])
        png.append(time.perf_counter() - started)
    bulk = statistics.median(pdf_times)
    print(
        f"{args.posters} posters in one PDF: {bulk:.1f} s (median of {args.repeat}), "
        f"{bulk / args.posters * 1000:.1f} ms per poster, {statistics.median(sizes) / 1e6:.1f} MB"
    )
    print(f"one poster as PDF: {statistics.median(single) * 1000:.0f} ms (median of 10)")
    print(f"one poster as PNG: {statistics.median(png) * 1000:.0f} ms (median of 10)")


if __name__ == "__main__":
    main()
